// The HTTP API as the page calls it: the bearer token on every request, JSON in and out, and every failure
// as an error the page can tell people about (problems.js).

import { readToken } from './session.js';

// An answer other than 2xx: its status, its JSON body when it has one, and its Retry-After header.
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(`the service answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }

  get detail() {
    return this.body?.detail;
  }

  // The conversation a failed chat turn belongs to (409, 502), when the answer names it.
  get conversationId() {
    return this.body?.conversation_id ?? null;
  }
}

// No answer at all: the network, or the service gone away mid-answer.
export class NetworkError extends Error {
  constructor(cause) {
    super('the connection to the service failed', { cause });
    this.name = 'NetworkError';
  }
}

// The position of this page's latest write (X-Chat-Position): sent back with reads, so that a read replica
// answers them only once it has that write, and the primary otherwise. The page reads its own writes.
let position = null;

export async function call(method, path, { body, accept = 'application/json', signal, headers: extra = {} } = {}) {
  const headers = { ...extra, Accept: accept };
  const token = readToken();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (position !== null && method === 'GET') {
    headers['X-Chat-Position'] = position;
  }
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (error) {
    if (error.name === 'AbortError') {
      throw error;
    }
    throw new NetworkError(error);
  }
  position = response.headers.get('X-Chat-Position') ?? position;
  if (!response.ok) {
    throw await errorOf(response);
  }
  return response;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page, say): the status tells enough
  }
  return new ApiError(response.status, body, response.headers.get('Retry-After'));
}

export async function getJson(path) {
  return (await call('GET', path)).json();
}

// A write: its JSON answer, or null for 204.
export async function sendJson(method, path, body) {
  const response = await call(method, path, { body });
  return response.status === 204 ? null : response.json();
}

// Paths of the API, their parts escaped.
export const paths = {
  conversations: (cursor) => `/api/conversations${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`,
  conversation: (id) => `/api/conversations/${encodeURIComponent(id)}`,
  recent: (id) => `/api/conversations/${encodeURIComponent(id)}/messages/recent`,
  messages: (id, after, limit) =>
    `/api/conversations/${encodeURIComponent(id)}/messages?after=${after}&limit=${limit}`,
  siblings: (id, seq) => `/api/conversations/${encodeURIComponent(id)}/messages/${seq}/siblings`,
  head: (id) => `/api/conversations/${encodeURIComponent(id)}/head`,
  search: (q) => `/api/search?q=${encodeURIComponent(q)}`,
  export: '/api/me/export',
  chat: '/api/chat',
  events: '/api/events',
};
