// The WebSocket to /ws: opening it, keeping it alive with pings, and the
// timing of reconnect attempts (exponential backoff with full jitter).
// A chat of several servers gives the page their URLs (serverURLs); the
// connection then moves to the next one whenever a socket closes or
// cannot be opened. What to do on a reconnect (sign in again, rejoin) is
// the session's business (session.js); this module only knows the socket.

/** RETRY_MIN_MS is the shortest wait before a reconnect attempt. */
export const RETRY_MIN_MS = 1000;
/** RETRY_MAX_MS caps the wait between reconnect attempts. */
export const RETRY_MAX_MS = 30000;
const PING_EVERY_MS = 30000;

/**
 * backoffDelay is the wait before reconnect attempt number attempt (1, 2,
 * ...): a random time between min and a ceiling that doubles with every
 * attempt up to max (full jitter above a floor). The jitter spreads the
 * clients of a restarted server; the floor gives the server the time to
 * notice the old connection is gone before the token login arrives.
 */
export function backoffDelay(attempt, min = RETRY_MIN_MS, max = RETRY_MAX_MS, random = Math.random) {
  const n = Math.max(1, Math.min(attempt, 30));
  const ceiling = Math.min(max, min * Math.pow(2, n));
  return Math.round(min + random() * (ceiling - min));
}

/** wsURL is the chat's WebSocket (path, default /ws) on this page's origin. */
export function wsURL(loc = location, path = "/ws") {
  return (loc.protocol === "https:" ? "wss:" : "ws:") + "//" + loc.host + path;
}

/**
 * serverURLs lists the chat's WebSocket URLs in the order they are tried:
 * those of <meta name="parlor-ws-urls" content="URL URL ..."> (the
 * server's http.ws_urls, or written by a page that embeds the client),
 * absolute ws:// or wss:// URLs or paths on this page's origin; without
 * any, this page's own /ws. Entries that are neither, and repeats, are
 * left out.
 */
export function serverURLs(doc = document, loc = location) {
  const meta = doc.querySelector('meta[name="parlor-ws-urls"]');
  const out = [];
  (meta ? meta.getAttribute("content") || "" : "").split(/\s+/).forEach((u) => {
    let abs = "";
    if (u.charAt(0) === "/" && u.charAt(1) !== "/") {
      abs = wsURL(loc, u);
    } else if (/^wss?:\/\/[^\/?#]/i.test(u)) {
      abs = u;
    }
    if (abs && out.indexOf(abs) < 0) { out.push(abs); }
  });
  return out.length > 0 ? out : [wsURL(loc)];
}

/**
 * Connection is the one WebSocket of the page, to one of urls at a time
 * (url: one URL only). Callbacks: onOpen(), onMessage(text),
 * onClose(event, wasOpen). Calls after a newer socket replaced a socket
 * are ignored.
 */
export class Connection {
  constructor({ urls = null, url = wsURL(), onOpen = () => {}, onMessage = () => {}, onClose = () => {}, onConnecting = () => {} } = {}) {
    this.urls = urls && urls.length > 0 ? urls.slice() : [url];
    this.index = 0;          // urls[index] is the server of the next (or current) socket
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.onConnecting = onConnecting;
    this.ws = null;
    this.open = false;       // the socket is open
    this.queued = [];        // functions run once the socket opens
    this.attempt = 0;        // failed connects since the last open
    this.retryTimer = 0;
    this.retryTick = 0;
    this.retryAt = 0;
    this.pingTimer = 0;
  }

  /** url is the server of the current socket, or of the next one. */
  get url() { return this.urls[this.index]; }

  /** several reports more than one server to connect to. */
  get several() { return this.urls.length > 1; }

  /** nextServer makes the following socket go to the next URL. */
  nextServer() { this.index = (this.index + 1) % this.urls.length; }

  /** busy reports a socket that is open or opening. */
  get busy() {
    return !!this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING);
  }

  /** connect opens a socket unless one is open or opening. */
  connect() {
    if (this.busy) { return; }
    this.stopRetry();
    this.onConnecting();
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.ws = null;
      this.nextServer();
      this.onClose({ reason: "could not connect: " + e.message }, false);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) { return; }
      this.open = true;
      this.attempt = 0;
      this.pingTimer = setInterval(() => { this.send({ type: "ping" }); }, PING_EVERY_MS);
      this.onOpen();
      const q = this.queued;
      this.queued = [];
      q.forEach((f) => { f(); });
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) { this.onMessage(ev.data); }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) { return; }
      const wasOpen = this.open;
      this.ws = null;
      this.open = false;
      clearInterval(this.pingTimer);
      // A server that dropped the socket or could not be reached may be
      // down: the next attempt goes to the next one.
      this.nextServer();
      this.onClose(ev, wasOpen);
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
  }

  /** whenOpen runs f now if the socket is open, else once it opens. */
  whenOpen(f) {
    if (this.open) {
      f();
      return;
    }
    this.queued.push(f);
    this.connect();
  }

  /** hasQueued reports functions waiting for the socket. */
  get hasQueued() { return this.queued.length > 0; }

  /** dropQueued forgets the functions waiting for the socket. */
  dropQueued() { this.queued = []; }

  /** send writes one JSON frame; false when the socket is not open. */
  send(obj) {
    if (!this.open || !this.ws) { return false; }
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  /** close ends the socket (its onClose still runs). */
  close(code, reason) {
    if (this.ws) { this.ws.close(code || 1000, reason || ""); }
  }

  /**
   * later calls f after the next backoff delay and tick(seconds left)
   * every second until then; it returns the delay.
   */
  later(f, tick) {
    this.stopRetry();
    this.attempt++;
    const delay = backoffDelay(this.attempt);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.stopRetry();
      f();
    }, delay);
    if (tick) {
      const t = () => { tick(Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000))); };
      t();
      this.retryTick = setInterval(t, 1000);
    }
    return delay;
  }

  /** stopRetry cancels what later scheduled. */
  stopRetry() {
    clearTimeout(this.retryTimer);
    clearInterval(this.retryTick);
    this.retryTimer = 0;
    this.retryTick = 0;
  }

  /** resetBackoff makes the next wait the shortest again. */
  resetBackoff() { this.attempt = 0; }
}
