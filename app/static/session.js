// The bearer token of the person signed in.
//
// A link may carry it in its fragment (#token=…): browsers never send the fragment to a server, so the token
// stays out of access logs, and the page removes it from the address bar at once. It is kept in
// sessionStorage: this tab only, gone when the tab closes.

const KEY = 'chat.token';

// Where the token lives when the browser refuses storage (some private modes): this page's memory.
let inMemory = null;

export function readToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return inMemory;
  }
}

export function keepToken(token) {
  inMemory = token;
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // memory only: signed in until the page reloads
  }
}

export function forgetToken() {
  inMemory = null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

// The page's place, from the URL fragment: #conversation=<id>, and #token=<token> on arrival from a link.
export function fragment() {
  return new URLSearchParams(location.hash.slice(1));
}

// Takes a token out of the fragment, if there is one: kept, and removed from the address bar and the history
// entry (replaceState), so that it is neither shown, bookmarked nor shared with the page's address.
export function takeTokenFromFragment() {
  const params = fragment();
  const token = params.get('token');
  if (!token) {
    return false;
  }
  keepToken(token.trim());
  params.delete('token');
  history.replaceState(null, '', addressWith(params));
  return true;
}

// This page's address with ``params`` as its fragment (none when empty).
export function addressWith(params) {
  const rest = params.toString();
  return location.pathname + location.search + (rest ? `#${rest}` : '');
}
