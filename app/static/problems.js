// What went wrong, in words people read: never a blank screen, never a bare status code.

import { ApiError, NetworkError } from './api.js';
import { counted } from './messages.js';
import { StreamCut, TurnFailed } from './turns.js';

export function describe(error) {
  if (error instanceof ApiError) {
    return describeAnswer(error);
  }
  if (error instanceof TurnFailed) {
    return sentence(error.detail) || 'The assistant could not answer.';
  }
  if (error instanceof NetworkError) {
    return 'The connection to the service failed. Check the network, then retry.';
  }
  if (error instanceof StreamCut) {
    return 'The connection closed before the reply was complete. Retry to get the whole reply.';
  }
  return `Something went wrong in this page: ${error.message}`;
}

function describeAnswer(error) {
  const detail = error.detail;
  switch (error.status) {
    case 401:
      return `The service refused the token: ${detail || 'none was sent'}.`;
    case 404:
      if (detail === 'message not found') {
        return 'That message is not in this conversation any more.';
      }
      return 'This conversation does not exist, or it is not yours.';
    case 409:
      // with Retry-After: a turn still being answered (a retry of it); without: a client_msg_id used before
      if (error.retryAfter) {
        return `This message is still being answered.${later(error.retryAfter)}`;
      }
      return sentence(detail) || 'The service refused this as a conflict.';
    case 422:
      return `The service did not accept this: ${fieldProblems(detail)}.`;
    case 502:
      return sentence(detail) || 'The assistant could not answer.';
    case 503: {
      // "the database is unreachable; try again": when to try again follows, from Retry-After
      const why = typeof detail === 'string' ? detail.replace(/;\s*try again$/, '') : 'it cannot answer';
      return `The service is unavailable for now: ${why}.${later(error.retryAfter) || ' Try again later.'}`;
    }
    default:
      return `The service answered ${error.status}${detail ? `: ${text(detail)}` : ''}.`;
  }
}

// A 422's list of errors, FastAPI's shape: each names its field (the last part of ``loc``) and why (``msg``).
function fieldProblems(detail) {
  if (!Array.isArray(detail)) {
    return text(detail) || 'no reason given';
  }
  return detail.map(({ loc, msg }) => {
    const field = Array.isArray(loc) && loc.length ? loc[loc.length - 1] : null;
    return field === null || field === 'body' ? msg : `${field}: ${msg}`;
  }).join('; ');
}

// Retry-After, in seconds or as a date.
function later(retryAfter) {
  if (!retryAfter) {
    return '';
  }
  if (/^\d+$/.test(retryAfter)) {
    return ` Try again in ${counted(Number(retryAfter), 'second')}.`;
  }
  const when = new Date(retryAfter);
  return Number.isNaN(when.getTime()) ? '' : ` Try again after ${when.toLocaleTimeString()}.`;
}

// The service's details are sentences without their capital and full stop.
function sentence(detail) {
  if (!detail) {
    return '';
  }
  const words = text(detail);
  return words.charAt(0).toUpperCase() + words.slice(1) + (/[.!?]$/.test(words) ? '' : '.');
}

function text(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// Whether sending the same turn again may succeed: the turn failed on the service's side or on the way, or
// is still being answered (409 with Retry-After). Bad input (422) or a missing conversation (404) would fail
// the same way again.
export function retryable(error) {
  if (error instanceof ApiError) {
    return [502, 503, 504].includes(error.status) || (error.status === 409 && Boolean(error.retryAfter));
  }
  return error instanceof TurnFailed || error instanceof NetworkError || error instanceof StreamCut;
}
