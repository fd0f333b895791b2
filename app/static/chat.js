// The chat page: sign-in with a token, the person's conversations, and the open one with its streamed turns,
// edits, regenerated replies and versions. Everything goes through the HTTP API (/api/…); the page keeps
// nothing but the token (session.js) and what it shows.

import { ApiError, call, getJson, paths, sendJson } from './api.js';
import { conversationItem, searchResultItem, titleOf } from './conversations.js';
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
};

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
  forgetToken();
  Object.assign(state, {
    conversations: [], nextCursor: null, listLoaded: false, listReady: false, conversationId: null,
    conversation: null, messages: [], editing: null, retry: null,
  });
  state.view += 1;
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

async function loadConversations({ more = false } = {}) {
  const button = $('more-conversations');
  button.disabled = true;
  try {
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
  $('conversation-list').replaceChildren(
    ...state.conversations.map((c) => conversationItem(c, c.id === state.conversationId)));
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
    editing: null,
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
