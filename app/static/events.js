// Server-Sent Events read from a fetch response's body, as they come.
//
// EventSource cannot send a POST nor an Authorization header, so the chat turn's stream and the live updates'
// (live.js) are read from fetch's ReadableStream and parsed here: events end with a blank line; `event:` names
// one, `data:` carries its JSON, `id:` its id (what a live stream resumes from); lines that start with a colon
// are comments (the service's keep-alive pings).

import { NetworkError } from './api.js';

export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let raw = '';
  let text = '';
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw error.name === 'AbortError' ? error : new NetworkError(error);
      }
      if (chunk.done) {
        return;
      }
      raw += chunk.value;
      // Lines end with \r\n (as this service sends them), \n or \r. A chunk may end between the \r and the
      // \n of one line end: a trailing \r waits for the next chunk rather than counting as a line end alone.
      const complete = raw.endsWith('\r') ? raw.length - 1 : raw.length;
      text += raw.slice(0, complete).replace(/\r\n?/g, '\n');
      raw = raw.slice(complete);
      let end;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const event = parseEvent(text.slice(0, end));
        text = text.slice(end + 2);
        if (event) {
          yield event;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

// One event's lines: { event, data, id } with data parsed as JSON (id: undefined when the event has none);
// null for a comment alone.
function parseEvent(block) {
  let event = 'message';
  let id;
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) {
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'event') {
      event = value;
    } else if (field === 'data') {
      data.push(value);
    } else if (field === 'id' && !value.includes('\0')) {
      id = value;
    }
  }
  return data.length ? { event, data: JSON.parse(data.join('\n')), id } : null;
}
