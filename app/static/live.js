// Live updates: GET /api/events, the changes to the person's own conversations made anywhere (another tab,
// another device, any instance of the service), as Server-Sent Events. Ids only: what changed is read again
// through the API by whoever follows them (chat.js).
//
// EventSource cannot send the Authorization header, so the stream is a fetch whose body events.js parses.
// When it drops (the network, the stream's end, a restart of the service), it opens again by itself, after a
// short wait that doubles at each failure and starts short again once a stream opens, sending the id of the
// last event it received (Last-Event-ID): the service sends what was missed, in order, each once, or
// ``resync`` when that is too old.
//
// The events are not followed one by one: those that come within COALESCE of the first are handed on
// together, as one set of changes, and never while the last set is still being applied, so that a flood
// of messages costs a few reads rather than one per message.

import { ApiError, call, paths } from './api.js';
import { readEvents } from './events.js';

// Milliseconds: the first wait before opening again, the longest, and how long changes are gathered.
const FIRST_DELAY = 500;
const MAX_DELAY = 10_000;
const COALESCE = 100;

// How long to wait before applying changes again when applying them failed (the service away, say).
const REAPPLY_DELAY = 2_000;

// The states ``onState`` is told: open; down, opening again; off for good (this service has no live
// updates, or the person signed out).
export const LIVE = 'live';
export const RECONNECTING = 'reconnecting';
export const OFF = 'off';

// The changes gathered from a run of events: ``everything`` to read again (a new stream's ready, a
// resync) unless it was read since ``readSince`` (performance.now(): a read sent after the stream opened sees
// every change its events do not tell), ``list`` (the conversation list changed), and by conversation id what
// happened to each (see changedConversation).
export function noChanges() {
  return { everything: false, readSince: -Infinity, list: false, conversations: new Map() };
}

function everythingSince(time) {
  return { ...noChanges(), everything: true, readSince: time };
}

function addEvent(changes, { event, data }, openedAt) {
  if (event === 'ready' || event === 'resync') {
    mergeChanges(changes, everythingSince(openedAt));
    return;
  }
  if (!data?.conversation_id) {
    return; // an event this page does not know: nothing it shows depends on it
  }
  const conversation = changedConversation(changes, data.conversation_id);
  if (event === 'message') {
    // the list shows each conversation's message count, newest activity first
    changes.list = true;
    conversation.seqs.push(data.seq);
    conversation.head = data.seq; // a stored message is its conversation's head (an append, an edit, a reply)
  } else if (event === 'head_switched') {
    conversation.headMoved = true;
    conversation.head = data.seq ?? null;
  } else if (event === 'conversation_created') {
    changes.list = true;
  } else if (event === 'conversation_renamed') {
    changes.list = true;
    conversation.renamed = true;
  } else if (event === 'conversation_deleted') {
    changes.list = true;
    conversation.deleted = true;
  }
}

// What happened to one conversation: ``seqs``, the messages stored; ``head``, its head after the last of
// these events (undefined when none said); ``headMoved``, its head moved other than by a new message (a
// switch of versions, a pop, a clear; or unknown); ``renamed``; ``deleted``.
export function changedConversation(changes, id) {
  if (!changes.conversations.has(id)) {
    changes.conversations.set(id, { seqs: [], head: undefined, headMoved: false, renamed: false, deleted: false });
  }
  return changes.conversations.get(id);
}

// ``later`` added to ``changes`` (those of earlier events): its head, when it says one, is the newer.
export function mergeChanges(changes, later) {
  changes.everything ||= later.everything;
  changes.readSince = Math.max(changes.readSince, later.readSince);
  changes.list ||= later.list;
  for (const [id, change] of later.conversations) {
    const conversation = changedConversation(changes, id);
    conversation.seqs.push(...change.seqs);
    conversation.head = change.head === undefined ? conversation.head : change.head;
    conversation.headMoved ||= change.headMoved;
    conversation.renamed ||= change.renamed;
    conversation.deleted ||= change.deleted;
  }
  return changes;
}

// Follows the person's live updates until stop(). ``onChanges(changes)`` applies a set of changes (a promise;
// when it fails, the changes are applied again later, as a reading of everything); ``onState(state,
// detail)`` is told LIVE, RECONNECTING or OFF (with the service's reason when it has no live updates);
// ``onRefused(error)`` gets a refused token (401), after which nothing more is tried.
export function followLive({ onChanges, onState, onRefused }) {
  const controller = new AbortController();
  const live = {
    controller, lastId: null, open: false, openedAt: -Infinity, pending: null, timer: null,
    applying: Promise.resolve(), wake: null, tried: false,
  };
  let firstTried;
  const firstTry = new Promise((resolve) => {
    firstTried = () => {
      live.tried = true;
      resolve();
    };
  });

  // The events of one stream, gathered into changes.
  const receive = (event) => {
    if (event.id !== undefined) {
      live.lastId = event.id;
    }
    live.pending = live.pending ?? noChanges();
    addEvent(live.pending, event, live.openedAt);
    schedule(COALESCE);
  };

  const schedule = (delay) => {
    if (live.timer === null && !controller.signal.aborted) {
      live.timer = setTimeout(apply, delay);
    }
  };

  // One set of changes at a time: what comes while one is applied waits for the next.
  const apply = () => {
    live.timer = null;
    live.applying = live.applying.then(async () => {
      const changes = live.pending;
      live.pending = null;
      if (!changes || controller.signal.aborted) {
        return;
      }
      try {
        await onChanges(changes);
      } catch (error) {
        if (controller.signal.aborted) {
          return;
        }
        if (error instanceof ApiError && error.status === 401) {
          stop();
          onRefused(error);
          return;
        }
        if (!(error instanceof ApiError) && error?.name !== 'NetworkError') {
          console.error(error); // a fault of the page's own, not the service's nor the network's
        }
        // what was half applied is read again whole, once the service answers: soon while the stream is
        // open, or once it opens again
        live.pending = mergeChanges(live.pending ?? noChanges(), everythingSince(performance.now()));
        if (live.open) {
          schedule(REAPPLY_DELAY);
        }
      }
    });
  };

  const stop = () => {
    controller.abort();
    clearTimeout(live.timer);
    live.timer = null;
    live.pending = null;
    window.removeEventListener('online', wakeUp);
  };

  // Back online, the next attempt is now rather than at the end of its wait.
  const wakeUp = () => live.wake?.();
  window.addEventListener('online', wakeUp);

  const opened = () => {
    firstTried();
    if (live.pending) {
      schedule(COALESCE); // changes that could not be applied while the service was away
    }
  };

  run(live, receive, opened, (state, detail) => {
    if (state !== LIVE) {
      firstTried(); // it failed: what waits for it goes on without
    }
    onState(state, detail);
  }, (error) => {
    stop();
    firstTried();
    onRefused(error);
  }).catch((error) => console.error(error));
  return {
    stop() {
      stop();
      firstTried();
      onState(OFF);
    },
    // Resolves once the first stream opened, or failed to, or after ``ms``: the page's first reads wait for
    // it, so that what they read is what the stream's events follow from (its ready then asks for no other).
    firstTry(ms) {
      return live.tried ? Promise.resolve() : Promise.race([firstTry, new Promise((resolve) => {
        setTimeout(resolve, ms);
      })]);
    },
    // Changes of earlier events, applied with the next set: those the page held back while it was busy.
    add(changes) {
      if (!controller.signal.aborted) {
        live.pending = mergeChanges(changes, live.pending ?? noChanges());
        schedule(COALESCE);
      }
    },
  };
}

// Opens the stream, and again each time it drops, until stopped, refused, or told live updates are off.
async function run(live, receive, opened, onState, refused) {
  const { signal } = live.controller;
  let delay = FIRST_DELAY;
  while (!signal.aborted) {
    let wait = delay;
    try {
      const headers = live.lastId === null ? {} : { 'Last-Event-ID': live.lastId };
      const response = await call('GET', paths.events, { accept: 'text/event-stream', signal, headers });
      if (!response.headers.get('Content-Type')?.startsWith('text/event-stream')) {
        throw new Error('the live updates answered something else than events');
      }
      live.open = true;
      live.openedAt = performance.now();
      onState(LIVE);
      opened();
      delay = FIRST_DELAY;
      wait = delay;
      for await (const event of readEvents(response)) {
        receive(event);
      }
      // the service ended the stream (it shuts down, say): another instance, or this one again, goes on
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      if (error instanceof ApiError) {
        if (error.status === 401) {
          refused(error);
          return;
        }
        if (error.status === 503 && /live updates are off/i.test(String(error.detail ?? ''))) {
          onState(OFF, error.detail);
          return;
        }
        if (error.status < 500) {
          // refused for another reason (a Last-Event-ID it does not take, say): a new stream, read whole
          live.lastId = null;
        }
        wait = Math.max(wait, retryAfter(error));
      }
      delay = Math.min(delay * 2, MAX_DELAY);
    }
    live.open = false;
    if (signal.aborted) {
      return;
    }
    onState(RECONNECTING);
    await sleep(wait, live);
  }
}

// A 503's Retry-After, in milliseconds (0 without one), within MAX_DELAY.
function retryAfter(error) {
  const seconds = Number(error.retryAfter);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_DELAY) : 0;
}

// Waits ``ms``, or less when the browser comes back online or the live updates stop.
function sleep(ms, live) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      live.wake = null;
      live.controller.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    live.wake = done;
    live.controller.signal.addEventListener('abort', done);
  });
}
