// How the messages of a conversation look. Built with textContent only, never as HTML: a message may hold
// any text, markup included, and it is shown as the text it is.

const ROLE_NAMES = { user: 'You', assistant: 'Assistant', system: 'System', tool: 'Tool' };

// How a role is named to people.
export function roleName(role) {
  return ROLE_NAMES[role] ?? role;
}

// "1 message", "3 messages".
export function counted(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// The keys by which chat.js gives the focus back to a message's control after the messages are drawn again:
// its Edit button, and a Previous or Next of the switcher of its position (shared by its versions, which share
// their parent and role: the focus stays on the switcher across versions).
export function editKey(message) {
  return `edit-${message.seq}`;
}

export function switcherKey(message, step) {
  return `versions-${message.parent_seq ?? 0}-${message.role}-${step < 0 ? 'previous' : 'next'}`;
}

export function element(tag, { className, text, attributes = {} } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function button(text, onClick, attributes = {}) {
  const node = element('button', { text, attributes: { type: 'button', ...attributes } });
  node.addEventListener('click', onClick);
  return node;
}

// One message of the active path. ``actions``: { busy, onEdit(message), onRegenerate(message),
// onSwitch(message, step) }; edit for the person's messages, regenerate for the assistant's, and the
// "< 2/3 >" switcher for a message that has other versions.
export function messageItem(message, actions) {
  const meta = element('div', { className: 'message-meta' }, [
    element('span', { className: 'message-role', text: roleName(message.role) }),
    timeOf(message.created_at),
  ]);
  if (message.summary_from != null) {
    meta.append(element('span', {
      className: 'message-note', text: `summary of messages ${message.summary_from}–${message.summary_through}`,
    }));
  }
  if ((message.sibling_count ?? 1) > 1) {
    meta.append(versionSwitcher(message, actions));
  }
  const item = element('li', {
    className: `message message-${message.role}`, attributes: { 'data-seq': message.seq },
  }, [meta, element('div', { className: 'message-content', text: message.content })]);
  const controls = element('div', { className: 'message-actions' });
  if (message.role === 'user') {
    controls.append(button('Edit', () => actions.onEdit(message), {
      'aria-label': 'Edit this message', 'data-focus-key': editKey(message),
    }));
  } else if (message.role === 'assistant' && message.parent_seq != null) {
    controls.append(button('Regenerate', () => actions.onRegenerate(message), {
      'aria-label': 'Regenerate this reply', 'data-focus-key': `regenerate-${message.seq}`,
    }));
  }
  for (const control of controls.children) {
    control.disabled = actions.busy;
  }
  if (controls.children.length) {
    item.append(controls);
  }
  return item;
}

// "< 2/3 >": the versions of a message's position (the messages that follow the same one).
function versionSwitcher(message, actions) {
  const previous = button('<', () => actions.onSwitch(message, -1), {
    'aria-label': 'Previous version', 'data-focus-key': switcherKey(message, -1),
  });
  const next = button('>', () => actions.onSwitch(message, 1), {
    'aria-label': 'Next version', 'data-focus-key': switcherKey(message, 1),
  });
  previous.disabled = actions.busy || message.sibling_index <= 1;
  next.disabled = actions.busy || message.sibling_index >= message.sibling_count;
  const position = element('span', {
    className: 'versions-position', text: `${message.sibling_index}/${message.sibling_count}`,
    attributes: { 'aria-label': `version ${message.sibling_index} of ${message.sibling_count}` },
  });
  return element('div', {
    className: 'versions', attributes: { role: 'group', 'aria-label': 'Versions of this message' },
  }, [previous, position, next]);
}

function timeOf(createdAt) {
  if (!createdAt) {
    return '';
  }
  const when = new Date(createdAt);
  return element('time', {
    className: 'message-time', text: when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    attributes: { datetime: createdAt, title: when.toLocaleString() },
  });
}

// The reply as it grows. A polite live region, busy while it grows: screen readers read it once, whole,
// when it is complete, rather than word by word.
export function growingReply() {
  const content = element('div', { className: 'message-content' });
  const item = element('li', {
    className: 'message message-assistant message-growing',
    attributes: { 'aria-live': 'polite', 'aria-busy': 'true', 'aria-label': 'The assistant’s reply' },
  }, [
    element('div', { className: 'message-meta' }, [
      element('span', { className: 'message-role', text: 'Assistant' }),
      element('span', { className: 'message-note', text: 'writing…' }),
    ]),
    content,
  ]);
  return {
    item,
    append(text) {
      content.textContent += text;
    },
    done() {
      item.setAttribute('aria-busy', 'false');
    },
  };
}

// A person's message opened for editing: its new text is sent as a new version, answered anew.
export function editForm(message, { onSave, onCancel }) {
  const id = `edit-input-${message.seq}`;
  const input = element('textarea', {
    className: 'edit-input', text: message.content, attributes: { id, rows: '3' },
  });
  const form = element('form', { className: 'edit-form' }, [
    element('label', { text: 'Edit your message', attributes: { for: id } }),
    input,
    element('div', { className: 'edit-buttons' }, [
      element('button', { text: 'Send the new version', className: 'primary', attributes: { type: 'submit' } }),
      button('Cancel', onCancel),
    ]),
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) {
      onSave(input.value);
    }
  });
  sendOnEnter(input, form);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      onCancel();
    }
  });
  return form;
}

// Enter submits ``form``, Shift+Enter is a new line (and Enter that completes an input method's composition
// is neither).
export function sendOnEnter(textarea, form) {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}
