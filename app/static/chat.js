// The chat page: sign-in with a token, the person's conversations, and the open one with its streamed turns,
// edits, regenerated replies and versions, kept up to date live with what changes elsewhere (live.js).
// Everything goes through the HTTP API (/api/…); the page keeps nothing but the token (session.js) and what it
// shows.

import { ApiError, call, getJson, paths, sendJson } from './api.js';
import { conversationItem, searchResultItem, titleOf } from './conversations.js';
import { OFF, RECONNECTING, followLive, mergeChanges, noChanges } from './live.js';
import {
  counted, editForm, editKey, element, growingReply, messageItem, sendOnEnter, switcherKey,
} from './messages.js';
import { describe, retryable } from './problems.js';
import { addressWith, forgetToken, fragment, keepToken, readToken, takeTokenFromFragment } from './session.js';
import { streamTurn, turnBody } from './turns.js';

const $ = (id) => document.getElementById(id);

// The most messages one read of the API returns here, and how close to the top of the messages scrolling up
// loads earlier ones (pixels).
const PAGE = 100;
const NEAR_TOP = 80;

const state = {
  conversations: [], // the list as shown: newest activity first
  nextCursor: null, // the list's next page; null once it is all shown
  listLoaded: false, // its first page asked for
  listReady: false, // its first page shown
  conversationId: null, // the open conversation; null for a new one, stored by its first message
  conversation: null,
  messages: [], // its active path as shown, ascending seq
  view: 0, // counts what was opened: an answer that comes after the person moved on is dropped
  loadingEarlier: false,
  editing: null, // the seq of the message being edited
  turn: null, // the turn in flight: { controller, reply }
  retry: null, // what the Retry button does
  focusKey: null, // the control to focus once the messages are drawn again
  held: null, // live changes to the open conversation, held back while its turn runs or a message is edited
  listReadAt: -Infinity, // when the list's first page was last asked for (performance.now())
  openReadAt: -Infinity, // when the open conversation was last asked for whole
};

// The longest the first reads after signing in wait for the live stream to open (milliseconds).
const FIRST_READS_WAIT = 1000;

// The live updates followed while signed in (live.js), and the number of the sign-in: an answer that comes
// after the person signed out is dropped.
let live = null;
let session = 0;

// --- signing in and out ------------------------------------------------------------------------------------

function route() {
  takeTokenFromFragment();
  if (!readToken()) {
    showSignIn();
    return;
  }
  showChat();
  const id = fragment().get('conversation');
  if (id) {
    openConversation(id);
  } else {
    openNew();
  }
}

// The sign-in form, with ``message``: what went wrong (``problem``), or a note.
function showSignIn(message = '', { problem = true } = {}) {
  abortTurn();
  $('chat').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-message').textContent = message;
  $('sign-in-message').className = problem ? 'problem' : 'note';
  $('token-input').value = '';
  $('token-input').focus();
  document.title = 'Sign in – Chat';
}

function showChat() {
  $('sign-in').hidden = true;
  $('chat').hidden = false;
  startLive();
  if (!state.listLoaded) {
    state.listLoaded = true;
    loadConversations();
  }
}

// (The forms' submits are prevented in start(), before their handlers run.)
function signIn() {
  const token = $('token-input').value.trim();
  if (token) {
    keepToken(token);
    route();
  }
}

// Back to the sign-in form, with nothing of the account left on the page.
function signOut(message, { problem = true } = {}) {
  stopLive();
  forgetToken();
  Object.assign(state, {
    conversations: [], nextCursor: null, listLoaded: false, listReady: false, conversationId: null,
    conversation: null, messages: [], editing: null, retry: null, held: null, listReadAt: -Infinity,
    openReadAt: -Infinity,
  });
  state.view += 1;
  session += 1;
  history.replaceState(null, '', addressWith(new URLSearchParams()));
  renderConversations();
  renderMessages();
  clearProblem();
  closeSearch();
  showSignIn(message, { problem });
}

// --- problems and status -----------------------------------------------------------------------------------

// Tells what went wrong, with a Retry button when ``retry`` is given. A refused token (401) signs out.
function report(error, retry = null) {
  if (error?.name === 'AbortError') {
    return;
  }
  if (error instanceof ApiError && error.status === 401) {
    signOut(describe(error));
    return;
  }
  if (!(error instanceof ApiError) && error?.name !== 'NetworkError') {
    console.error(error);
  }
  toggleList(false); // on a phone the open list would hide what is said
  $('problem').textContent = describe(error);
  state.retry = retry;
  $('retry').hidden = !retry;
  $('problem-actions').hidden = false;
}

function clearProblem() {
  $('problem').textContent = '';
  $('problem-actions').hidden = true;
  state.retry = null;
}

function setStatus(text) {
  $('status').textContent = text;
}

// --- the conversation list ---------------------------------------------------------------------------------

// The list's reads, one after another: a page More brings and the list read again (refreshList) never cross.
let listReads = Promise.resolve();

function queueListRead(read) {
  const done = listReads.then(read);
  listReads = done.catch(() => {});
  return done;
}

function loadConversations({ more = false } = {}) {
  return queueListRead(() => readConversations({ more }));
}

async function readConversations({ more }) {
  const button = $('more-conversations');
  button.disabled = true;
  try {
    if (!more) {
      const signedIn = session;
      await liveOpened();
      if (signedIn !== session) {
        return;
      }
      state.listReadAt = performance.now();
    }
    const page = await getJson(paths.conversations(more ? state.nextCursor : null));
    const shown = new Set(state.conversations.map((c) => c.id));
    // a conversation moved to the top since (putFirst) is not listed twice
    state.conversations = more ? [...state.conversations, ...page.items.filter((c) => !shown.has(c.id))]
      : page.items;
    state.nextCursor = page.next_cursor;
    state.listReady = true;
    renderConversations();
    if (more && !state.nextCursor) {
      // the More button is gone: the keyboard goes on from the first conversation it brought
      $('conversation-list').querySelector(`li:nth-child(${shown.size + 1}) a`)?.focus();
    }
  } catch (error) {
    if (!more) {
      state.listLoaded = false;
    }
    report(error, () => loadConversations({ more }));
  } finally {
    button.disabled = false;
  }
}

function renderConversations() {
  const list = $('conversation-list');
  // the focus stays on its conversation's link when the list is drawn again (a live update under it)
  const focused = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
  list.replaceChildren(...state.conversations.map((c) => conversationItem(c, c.id === state.conversationId)));
  if (focused) {
    list.querySelector(`li[data-id="${CSS.escape(focused)}"] a`)?.focus();
  }
  $('conversations-empty').hidden = !state.listReady || state.conversations.length > 0;
  $('more-conversations').hidden = !state.nextCursor;
}

// A conversation with new activity goes to the top, as the list is ordered.
function putFirst(conversation) {
  state.conversations = [conversation, ...state.conversations.filter((c) => c.id !== conversation.id)];
  renderConversations();
}

async function refreshConversation(id) {
  try {
    const conversation = await getJson(paths.conversation(id));
    if (id === state.conversationId) {
      state.conversation = conversation;
      renderHeader();
    }
    putFirst(conversation);
  } catch {
    // the list stays as it was: the conversation itself says what went wrong when it is opened
  }
}

// On a narrow screen the list folds away, behind the Conversations button.
function toggleList(open = $('list-toggle').getAttribute('aria-expanded') !== 'true') {
  $('list-toggle').setAttribute('aria-expanded', String(open));
  $('chat').classList.toggle('list-open', open);
}

// --- search and export -------------------------------------------------------------------------------------

async function search() {
  const q = $('search-input').value.trim();
  if (!q) {
    return;
  }
  $('search-results').hidden = false;
  $('search-list').replaceChildren();
  $('search-summary').textContent = 'Searching…';
  try {
    const { items } = await getJson(paths.search(q));
    const titles = new Map(state.conversations.map((c) => [c.id, titleOf(c)]));
    $('search-list').replaceChildren(...items.map((m) => searchResultItem(m, titles.get(m.conversation_id))));
    $('search-summary').textContent = items.length
      ? `${counted(items.length, 'message')} found for “${q}”.`
      : `No message found for “${q}”.`;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      report(error);
    } else {
      // told where the search is: on a phone the open list covers the conversation and its notices
      $('search-summary').textContent = describe(error);
    }
  }
}

function closeSearch() {
  $('search-results').hidden = true;
  $('search-list').replaceChildren();
  $('search-summary').textContent = '';
}

// Everything stored for the person, downloaded as a JSON file.
async function exportData() {
  const button = $('export');
  button.disabled = true;
  setStatus('Preparing your data…');
  try {
    const blob = await (await call('GET', paths.export)).blob();
    const link = element('a', {
      attributes: { href: URL.createObjectURL(blob), download: `chat-export-${today()}.json` },
    });
    document.body.append(link);
    link.click();
    link.remove();
    // The download has its data once it starts; revoking the URL at once may cancel it in some browsers.
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    setStatus('Your data was downloaded as a JSON file.');
  } catch (error) {
    setStatus('');
    report(error, exportData);
  } finally {
    button.disabled = false;
  }
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

// --- the open conversation ---------------------------------------------------------------------------------

// Shows conversation ``id`` (null: a new one), empty until its messages come; returns the view's number, by
// which an answer that comes after the person moved on is told apart and dropped.
function startView(id) {
  abortTurn();
  const view = ++state.view;
  Object.assign(state, {
    conversationId: id, conversation: state.conversations.find((c) => c.id === id) ?? null, messages: [],
    editing: null, held: null, openReadAt: -Infinity,
  });
  closeRename();
  clearProblem();
  setStatus('');
  renderHeader();
  renderMessages();
  renderConversations();
  return view;
}

function openNew() {
  startView(null);
}

async function openConversation(id) {
  const view = startView(id);
  await liveOpened();
  if (view !== state.view) {
    return;
  }
  state.openReadAt = performance.now();
  try {
    const [conversation, recent] = await Promise.all([getJson(paths.conversation(id)), getJson(paths.recent(id))]);
    if (view !== state.view) {
      return;
    }
    state.conversation = conversation;
    state.messages = recent.items;
    renderHeader();
    renderMessages();
    scrollToEnd();
  } catch (error) {
    if (view !== state.view) {
      return;
    }
    state.conversation = null;
    renderHeader();
    const missing = error instanceof ApiError && [404, 422].includes(error.status);
    if (missing) {
      $('conversation-title').textContent = 'Conversation not found';
    }
    report(error, missing ? null : () => openConversation(id));
  }
}

// The open conversation's recent messages, read again (after a stop, a switch, an edit or a regenerated reply).
async function loadRecent({ scroll = true } = {}) {
  const id = state.conversationId;
  const view = state.view;
  if (!id) {
    return;
  }
  try {
    const { items } = await getJson(paths.recent(id));
    if (view === state.view) {
      state.messages = items;
      renderMessages();
      if (scroll) {
        scrollToEnd();
      }
    }
  } catch (error) {
    if (view === state.view) {
      report(error, () => loadRecent({ scroll }));
    }
  }
}

// The active path's first message follows none: a first shown message that follows one has earlier ones.
function hasEarlier() {
  const first = state.messages[0];
  return Boolean(first) && first.seq > 1 && first.parent_seq !== null;
}

// The messages before the first shown. The API pages forward (seq > after) over the active path, whose
// message before the first shown is that one's parent: the page after (parent − 100) holds the parent and
// every message of the path before it down to there, at most 100 (seqs differ). Without branches the parent
// is the first shown − 1, and the page is the one after (first shown − 101).
async function loadEarlier() {
  if (state.loadingEarlier || !hasEarlier()) {
    return;
  }
  const view = state.view;
  const first = state.messages[0];
  const parent = first.parent_seq ?? first.seq - 1;
  const button = $('load-earlier');
  state.loadingEarlier = true;
  button.disabled = true;
  button.textContent = 'Loading earlier messages…';
  try {
    const page = await getJson(paths.messages(state.conversationId, Math.max(0, parent - PAGE), PAGE));
    if (view !== state.view) {
      return;
    }
    const earlier = page.items.filter((m) => m.seq < first.seq);
    // the messages being read stay where they are: what is added goes above them
    const scroller = $('messages');
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    state.messages = [...earlier, ...state.messages];
    renderMessages();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
    if (!hasEarlier() && document.activeElement === button) {
      scroller.focus();
    }
  } catch (error) {
    report(error, loadEarlier);
  } finally {
    state.loadingEarlier = false;
    button.disabled = false;
    button.textContent = 'Load earlier messages';
  }
}

function renderHeader() {
  const renaming = !$('rename-form').hidden;
  const title = state.conversation ? titleOf(state.conversation)
    : state.conversationId ? 'Loading…' : 'New conversation';
  $('conversation-title').textContent = title;
  $('conversation-title').hidden = renaming;
  $('conversation-actions').hidden = renaming || !state.conversation;
  document.title = state.conversation ? `${title} – Chat` : 'Chat';
}

function renderMessages() {
  const list = $('message-list');
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
  const focusKey = state.focusKey ?? focused;
  state.focusKey = null;
  const actions = {
    busy: Boolean(state.turn), onEdit: startEdit, onRegenerate: regenerate, onSwitch: switchVersion,
  };
  list.replaceChildren(...state.messages.map((m) => (state.editing === m.seq ? editItem(m) : messageItem(m, actions))));
  if (state.turn?.reply) {
    list.append(state.turn.reply.item);
  }
  $('load-earlier').hidden = !hasEarlier();
  if (focusKey) {
    refocus(list, focusKey);
  }
}

// The control with ``key`` gets the focus back after the messages were drawn again; when it is disabled (the
// last version reached), the other one of its group.
function refocus(list, key) {
  const target = list.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (!target) {
    return;
  }
  const enabled = target.disabled ? target.parentElement.querySelector('button:not(:disabled)') : target;
  enabled?.focus();
}

function scrollToEnd() {
  const scroller = $('messages');
  scroller.scrollTop = scroller.scrollHeight;
}

function nearEnd() {
  const scroller = $('messages');
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
}

// --- rename and delete -------------------------------------------------------------------------------------

function openRename() {
  $('rename-form').hidden = false;
  $('rename-input').value = state.conversation?.title ?? '';
  renderHeader();
  $('rename-input').focus();
  $('rename-input').select();
}

function closeRename({ focus = false } = {}) {
  $('rename-form').hidden = true;
  renderHeader();
  if (focus) {
    $('rename').focus();
  }
}

async function rename() {
  const title = $('rename-input').value.trim();
  try {
    // an empty title removes it (null)
    const conversation = await sendJson('PATCH', paths.conversation(state.conversationId), { title: title || null });
    state.conversation = conversation;
    clearProblem();
    closeRename({ focus: true });
    putFirst(conversation);
    setStatus(title ? `Renamed “${title}”.` : 'The title was removed.');
  } catch (error) {
    report(error);
    $('rename-input').focus();
  }
}

function askDelete() {
  const count = state.conversation?.message_count ?? 0;
  $('delete-dialog-text').textContent =
    `“${titleOf(state.conversation)}” and its ${counted(count, 'message')} will be deleted for good.`;
  $('delete-dialog').returnValue = '';
  $('delete-dialog').showModal();
}

async function deleteConversation() {
  const id = state.conversationId;
  try {
    await sendJson('DELETE', paths.conversation(id));
    state.conversations = state.conversations.filter((c) => c.id !== id);
    history.pushState(null, '', addressWith(new URLSearchParams()));
    openNew();
    setStatus('The conversation was deleted.');
    $('composer-input').focus();
  } catch (error) {
    report(error);
  }
}

// --- chat turns --------------------------------------------------------------------------------------------

function send() {
  const text = $('composer-input').value;
  if (!text.trim() || state.turn) {
    return;
  }
  const fields = { message: text };
  if (state.conversationId) {
    fields.conversation_id = state.conversationId;
  }
  runTurn(turnBody(fields), 'send');
}

function startEdit(message) {
  state.editing = message.seq;
  renderMessages();
  $(`edit-input-${message.seq}`)?.focus();
}

function editItem(message) {
  const form = editForm(message, {
    onSave: (text) => {
      state.editing = null;
      runTurn(turnBody({ conversation_id: state.conversationId, edit_of: message.seq, message: text }), 'edit');
    },
    onCancel: () => {
      state.editing = null;
      state.focusKey = editKey(message);
      renderMessages();
      releaseHeld();
    },
  });
  return element('li', { className: 'message message-user message-editing' }, [form]);
}

function regenerate(message) {
  runTurn(turnBody({ conversation_id: state.conversationId, regenerate_of: message.seq }), 'regenerate');
}

// "< 2/3 >": the head moves to the newest message under the chosen version, and the path is read again.
async function switchVersion(message, step) {
  const id = state.conversationId;
  const view = state.view;
  state.focusKey = switcherKey(message, step);
  try {
    const { items } = await getJson(paths.siblings(id, message.seq));
    const target = items[items.findIndex((m) => m.seq === message.seq) + step];
    if (!target || view !== state.view) {
      return;
    }
    await sendJson('POST', paths.head(id), { seq: target.seq });
    await loadRecent({ scroll: false });
  } catch (error) {
    report(error);
  }
}

// One turn, streamed: ``kind`` is send, edit or regenerate. A failure that a retry may mend offers Retry,
// which sends the very same body: the same client_msg_id, so the service never stores the message twice.
async function runTurn(body, kind) {
  if (state.turn) {
    return;
  }
  const turn = { controller: new AbortController(), reply: null };
  state.turn = turn;
  clearProblem();
  setStatus(kind === 'regenerate' ? 'Asking for another reply…' : 'Sending…');
  setTurnControls(true);
  renderMessages();
  let reply;
  try {
    reply = await streamTurn(body, {
      signal: turn.controller.signal,
      onUserMessage: (message) => {
        adopt(message.conversation_id);
        placeUserMessage(message, body, kind);
        // the composer is emptied once the message is stored, unless the person has written on meanwhile
        if (kind === 'send' && $('composer-input').value === body.message) {
          $('composer-input').value = '';
        }
        turn.reply = growingReply();
        setStatus('The assistant is replying…');
        renderMessages();
        scrollToEnd();
      },
      onDelta: (text) => {
        const follow = nearEnd();
        turn.reply?.append(text);
        if (follow) {
          scrollToEnd();
        }
      },
    });
  } catch (error) {
    if (state.turn !== turn) {
      return; // the person opened another conversation: the turn goes on without this page
    }
    endTurn();
    if (error.name === 'AbortError') {
      setStatus('Stopped. The service still finishes the reply and keeps it; open the conversation again to read it.');
      await loadRecent();
    } else {
      setStatus('');
      if (error.conversationId) {
        adopt(error.conversationId);
      }
      renderMessages();
      report(error, retryable(error) ? () => runTurn(body, kind) : null);
    }
    if (state.conversationId) {
      refreshConversation(state.conversationId);
    }
    releaseHeld();
    return;
  }
  turn.reply?.done();
  endTurn();
  setStatus('');
  if (kind === 'send') {
    state.messages = [...state.messages.filter((m) => m.seq !== reply.seq), reply];
    renderMessages();
    scrollToEnd();
  } else {
    // the versions changed: the switcher's counts come from a fresh read
    await loadRecent();
  }
  refreshConversation(reply.conversation_id);
  releaseHeld();
}

function endTurn() {
  state.turn = null;
  setTurnControls(false);
}

// A new conversation is stored with its first message: the page now shows that conversation.
function adopt(id) {
  if (state.conversationId === id) {
    return;
  }
  state.conversationId = id;
  history.replaceState(null, '', addressWith(new URLSearchParams({ conversation: id })));
  renderHeader();
  if (!state.conversation) {
    $('conversation-title').textContent = 'New conversation'; // its title comes with the turn's end
  }
}

// Where the turn's user message goes among those shown. An edit's new version takes the edited message's
// place, and what followed that one stays on its own branch; a message answered again stays, and the reply
// it had goes to its branch; a retry's message replaces its earlier self (the same seq).
function placeUserMessage(message, body, kind) {
  let kept = state.messages;
  if (kind === 'edit') {
    const at = kept.findIndex((m) => m.seq === body.edit_of);
    kept = at >= 0 ? kept.slice(0, at) : kept;
  } else if (kind === 'regenerate') {
    const at = kept.findIndex((m) => m.seq === message.seq);
    state.messages = at >= 0 ? kept.slice(0, at + 1) : kept.filter((m) => m.seq < body.regenerate_of);
    return;
  }
  state.messages = [...kept.filter((m) => m.seq !== message.seq), message];
}

function setTurnControls(busy) {
  const stopHadFocus = document.activeElement === $('stop');
  $('send').disabled = busy;
  $('stop').hidden = !busy;
  if (stopHadFocus && !busy) {
    $('composer-input').focus();
  }
}

function stop() {
  state.turn?.controller.abort();
}

// Leaving a conversation ends this page's part of its turn (the service finishes it all the same).
function abortTurn() {
  if (state.turn) {
    const { controller } = state.turn;
    state.turn = null;
    controller.abort();
    setTurnControls(false);
  }
}

// --- live updates -----------------------------------------------------------------------------------------

// What changes elsewhere (another tab, another device) shows here without a reload: live.js follows the
// changes and hands them on in sets; each set is applied here with reads of the API, as the page reads
// anything. A read that fails throws, and live.js applies the changes again later, whole.

function startLive() {
  live ??= followLive({ onChanges: applyChanges, onState: showLiveState, onRefused: report });
}

function stopLive() {
  live?.stop();
  live = null;
}

// The first reads after signing in wait for the live stream to open (or fail to, or FIRST_READS_WAIT): what
// they read is then what its events follow from, and its ready needs no second read. Later reads wait for
// nothing.
function liveOpened() {
  return live ? live.firstTry(FIRST_READS_WAIT) : Promise.resolve();
}

// Nothing while live; a word while the stream is down or when the service has no live updates. (A polite
// live region: said once, between what the person does.)
function showLiveState(liveState, detail) {
  const text = liveState === RECONNECTING ? 'Reconnecting to live updates…'
    : liveState === OFF && detail
      ? 'Live updates are off on this service: what changes elsewhere shows when you open a conversation again.'
      : '';
  if ($('live-status').textContent !== text) {
    $('live-status').textContent = text;
  }
}

// Everything is read again for a new stream (what is shown may have changed before it opened) or one too far
// behind to resume, unless it was read since that stream opened; otherwise what the events name.
async function applyChanges(changes) {
  const id = state.conversationId;
  const open = id ? changes.conversations.get(id) : undefined;
  const list = changes.list || (changes.everything && state.listReadAt < changes.readSince);
  const whole = changes.everything && state.openReadAt < changes.readSince;
  await Promise.all([list ? refreshList() : null, whole ? reloadOpen() : open ? applyToOpen(id, open) : null]);
}

// The list read again from its start, as far as it is shown (the pages More brought included): the person
// keeps their place in it, and the open conversation stays marked. The open conversation's title and count
// come with it.
function refreshList() {
  const signedIn = session;
  return queueListRead(async () => {
    if (!state.listReady) {
      return; // its first page is still coming, or failed and offers Retry
    }
    const wanted = state.conversations.length;
    let items = [];
    let cursor = null;
    state.listReadAt = performance.now();
    do {
      const page = await getJson(paths.conversations(cursor));
      const known = new Set(items.map((c) => c.id));
      items = [...items, ...page.items.filter((c) => !known.has(c.id))];
      cursor = page.next_cursor;
    } while (cursor && items.length < wanted);
    if (signedIn !== session || !state.listReady) {
      return;
    }
    state.conversations = items;
    state.nextCursor = cursor;
    const open = items.find((c) => c.id === state.conversationId);
    if (open) {
      state.conversation = open;
      renderHeader();
    }
    renderConversations();
  });
}

// The open conversation read again whole: its header and recent messages.
async function reloadOpen() {
  const id = state.conversationId;
  if (!id) {
    return;
  }
  if (busyHere()) {
    hold(id, { headMoved: true }); // read again once the turn or the edit is done
    return;
  }
  const view = state.view;
  const loaded = state.conversation !== null;
  state.openReadAt = performance.now();
  try {
    const [conversation, recent] = await Promise.all([getJson(paths.conversation(id)), getJson(paths.recent(id))]);
    if (view !== state.view) {
      return;
    }
    if (busyHere()) {
      hold(id, { headMoved: true });
      return;
    }
    const follow = nearEnd(); // where the person is now: at the end, they stay there
    state.conversation = conversation;
    state.messages = reconciled(recent.items);
    renderHeader();
    renderMessages();
    if (follow) {
      scrollToEnd();
    }
  } catch (error) {
    // missing: deleted since it was shown; one never shown says so already
    if (!isMissing(error) || view !== state.view) {
      throw error;
    }
    if (loaded) {
      showDeleted();
    }
  }
}

// The open conversation's changes: a deletion clears the view; new messages that follow the last shown are
// added after it; a head moved elsewhere, or messages that do not follow, read its recent messages again. A
// message already shown (the page's own turn just showed it) is not added again.
async function applyToOpen(id, change) {
  if (change.deleted) {
    showDeleted();
    return;
  }
  const shown = new Set(state.messages.map((m) => m.seq));
  const last = state.messages.at(-1)?.seq ?? null;
  const added = change.seqs.some((seq) => !shown.has(seq));
  if (!added && (!change.headMoved || change.head === last)) {
    return;
  }
  if (busyHere()) {
    hold(id, change); // the page's own turn, or an edit, is not redrawn under the person
    return;
  }
  const view = state.view;
  try {
    if (!change.headMoved && (await appendNewer(id, change, view))) {
      return;
    }
    if (view === state.view) {
      await reloadRecent(id, change, view);
    }
  } catch (error) {
    if (!isMissing(error) || view !== state.view) {
      throw error;
    }
    showDeleted();
  }
}

// The messages of the active path after the last shown, added when they follow it (each one's parent the one
// before): true once done (or moot). False when they do not follow, or are more than a page: the path
// changed, or is long, and is read again.
async function appendNewer(id, change, view) {
  const last = state.messages.at(-1) ?? null;
  const page = await getJson(paths.messages(id, last?.seq ?? 0, PAGE));
  if (view !== state.view) {
    return true;
  }
  if (busyHere() || state.messages.at(-1) !== last) {
    hold(id, change); // what is shown changed meanwhile: applied again, to what is shown then
    releaseHeld();
    return true;
  }
  const { items } = page;
  const follows = items.every((m, i) => (m.parent_seq ?? null) === (i === 0 ? last?.seq ?? null : items[i - 1].seq));
  if (!follows || page.next_after != null || items.length === 0) {
    return false;
  }
  const follow = nearEnd();
  state.messages = [...state.messages, ...items];
  renderMessages();
  if (follow) {
    scrollToEnd();
  }
  return true;
}

async function reloadRecent(id, change, view) {
  const { items } = await getJson(paths.recent(id));
  if (view !== state.view) {
    return;
  }
  if (busyHere()) {
    hold(id, change);
    return;
  }
  const follow = nearEnd();
  state.messages = reconciled(items);
  renderMessages();
  if (follow) {
    scrollToEnd();
  }
}

// The recent messages read again, in place of those shown. When the path shown is still the conversation's,
// only longer now, the earlier messages the person scrolled up to stay above them, so that nothing they read
// moves; a path that changed (a version chosen elsewhere, a message taken off) is shown as read.
function reconciled(recent) {
  const shown = state.messages;
  const at = recent.findIndex((m) => m.seq === shown.at(-1)?.seq);
  // the last shown message, and every one before it that the recent ones hold, the same
  const earlier = shown.length - (at + 1);
  if (at < 0 || earlier <= 0 || !recent.slice(0, at + 1).every((m, i) => m.seq === shown[earlier + i].seq)) {
    return recent;
  }
  return [...shown.slice(0, earlier), ...recent];
}

// The open conversation was deleted elsewhere: the page shows a new one, and says why. The focus, when it was
// in what is gone, goes to the message box.
function showDeleted() {
  const id = state.conversationId;
  const hadFocus = $('conversation').contains(document.activeElement);
  state.conversations = state.conversations.filter((c) => c.id !== id);
  history.replaceState(null, '', addressWith(new URLSearchParams()));
  openNew();
  setStatus('The conversation you had open was deleted.');
  if (hadFocus && !$('conversation').contains(document.activeElement)) {
    $('composer-input').focus();
  }
}

function isMissing(error) {
  return error instanceof ApiError && error.status === 404;
}

// The page's own turn runs in the open conversation, or one of its messages is being edited.
function busyHere() {
  return state.turn !== null || state.editing !== null;
}

function hold(id, change) {
  const held = noChanges();
  held.conversations.set(id, { seqs: [], head: undefined, headMoved: false, renamed: false, deleted: false,
    ...change });
  state.held = mergeChanges(state.held ?? noChanges(), held);
}

// What was held back goes to live.js again, applied with its next set of changes.
function releaseHeld() {
  if (state.held && !busyHere()) {
    const held = state.held;
    state.held = null;
    live?.add(held);
  }
}

// --- wiring ------------------------------------------------------------------------------------------------

// Event handlers whose failures are reported rather than lost.
function on(id, type, handler) {
  $(id).addEventListener(type, (event) => {
    Promise.resolve().then(() => handler(event)).catch((error) => report(error));
  });
}

function start() {
  // A form's submit must be prevented synchronously, before any handler's promise runs.
  for (const id of ['sign-in-form', 'composer', 'rename-form', 'search-form']) {
    $(id).addEventListener('submit', (event) => event.preventDefault());
  }
  on('sign-in-form', 'submit', signIn);
  on('sign-out', 'click', () => signOut('You are signed out.', { problem: false }));
  on('composer', 'submit', send);
  on('stop', 'click', stop);
  on('rename', 'click', openRename);
  on('rename-cancel', 'click', () => closeRename({ focus: true }));
  on('rename-form', 'submit', rename);
  on('delete', 'click', askDelete);
  on('delete-dialog', 'close', () => $('delete-dialog').returnValue === 'delete' && deleteConversation());
  on('more-conversations', 'click', () => loadConversations({ more: true }));
  on('load-earlier', 'click', loadEarlier);
  on('search-form', 'submit', search);
  on('search-clear', 'click', () => {
    closeSearch();
    $('search-input').focus();
  });
  on('export', 'click', exportData);
  on('list-toggle', 'click', () => toggleList());
  on('new-conversation', 'click', () => {
    history.pushState(null, '', addressWith(new URLSearchParams()));
    openNew();
    toggleList(false);
    $('composer-input').focus();
  });
  on('retry', 'click', () => {
    const retry = state.retry;
    clearProblem();
    return retry?.();
  });
  on('dismiss', 'click', clearProblem);

  sendOnEnter($('composer-input'), $('composer'));
  $('rename-input').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      closeRename({ focus: true });
    }
  });
  $('messages').addEventListener('scroll', () => {
    if ($('messages').scrollTop < NEAR_TOP) {
      loadEarlier().catch(report);
    }
  }, { passive: true });
  // A link to the conversation already open reads it again (the address does not change, so no hashchange);
  // any link of the list folds it away on a narrow screen.
  $('sidebar').addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#"]');
    if (!link) {
      return;
    }
    toggleList(false);
    if (link.getAttribute('href') === location.hash) {
      event.preventDefault();
      route();
    }
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
