// A chat turn, streamed: POST /api/chat with Accept: text/event-stream, then its events as they come:
// user_message (the stored message), delta {text} (a piece of the reply), and last assistant_message (the
// stored reply) or error {detail, conversation_id}.
//
// Aborting the request (Stop) ends the stream, not the turn: the service writes the reply to its end and
// stores it. A failed turn is retried by sending the same body again: its client_msg_id makes the service
// answer the stored turn, or run it again, never store the user's message twice.

import { call, paths } from './api.js';
import { readEvents } from './events.js';

// The service's error event: the turn failed after the user's message was stored.
export class TurnFailed extends Error {
  constructor(detail, conversationId) {
    super(detail);
    this.name = 'TurnFailed';
    this.detail = detail;
    this.conversationId = conversationId ?? null;
  }
}

// The stream ended before the reply did.
export class StreamCut extends Error {
  constructor() {
    super('the stream ended before the reply');
    this.name = 'StreamCut';
  }
}

// A new turn's body: its own client_msg_id, the key that makes a retry of it safe.
export function turnBody(fields) {
  return { ...fields, client_msg_id: crypto.randomUUID() };
}

// Sends the turn and reports its events; the stored reply, or throws (ApiError, NetworkError, TurnFailed,
// StreamCut, or the AbortError of ``signal``).
export async function streamTurn(body, { signal, onUserMessage, onDelta }) {
  const response = await call('POST', paths.chat, { body, accept: 'text/event-stream', signal });
  if (!response.headers.get('Content-Type')?.startsWith('text/event-stream')) {
    // a plain JSON turn (a service that does not stream): the same, in one piece
    const turn = await response.json();
    onUserMessage(turn.user_message);
    onDelta(turn.assistant_message.content);
    return turn.assistant_message;
  }
  for await (const { event, data } of readEvents(response)) {
    if (event === 'user_message') {
      onUserMessage(data);
    } else if (event === 'delta') {
      onDelta(data.text);
    } else if (event === 'assistant_message') {
      return data;
    } else if (event === 'error') {
      throw new TurnFailed(data.detail, data.conversation_id);
    }
  }
  throw new StreamCut();
}
