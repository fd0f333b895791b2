// How the conversation list and the search results look: links to #conversation=<id>, so that they are
// real links (keyboard, history, the back button) and the page opens what the address names.

import { counted, element, roleName } from './messages.js';

const UNTITLED = 'Untitled conversation';

export function conversationLink(id) {
  return `#conversation=${encodeURIComponent(id)}`;
}

export function titleOf(conversation) {
  return conversation?.title || UNTITLED;
}

export function conversationItem(conversation, isCurrent) {
  const link = element('a', {
    className: 'conversation-link', attributes: { href: conversationLink(conversation.id) },
  }, [
    element('span', { className: 'conversation-name', text: titleOf(conversation) }),
    element('span', {
      className: 'conversation-meta',
      text: `${counted(conversation.message_count, 'message')} · ${when(conversation.updated_at)}`,
    }),
  ]);
  if (isCurrent) {
    link.setAttribute('aria-current', 'page');
  }
  return element('li', { attributes: { 'data-id': conversation.id } }, [link]);
}

// The time of the last activity: the time alone today, the date otherwise.
function when(timestamp) {
  const date = new Date(timestamp);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' });
}

// A message found by search, linking to its conversation (named when the list shows it).
export function searchResultItem(message, conversationTitle) {
  const excerpt = message.content.length > 160 ? `${message.content.slice(0, 160)}…` : message.content;
  return element('li', {}, [
    element('a', { className: 'search-link', attributes: { href: conversationLink(message.conversation_id) } }, [
      element('span', { className: 'search-excerpt', text: `${roleName(message.role)}: ${excerpt}` }),
      element('span', { className: 'conversation-meta', text: conversationTitle ?? 'in a conversation' }),
    ]),
  ]);
}
