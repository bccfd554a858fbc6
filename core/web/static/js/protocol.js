// The JSON protocol of docs/protocol.md over a Connection: requests as
// Promises, events to subscribers.
//
// A request gets a fresh string id. The event that comes back with the
// same id answers it: its subscribers run first (with the request's
// context), then the Promise resolves with the event. An error event with
// the id rejects the Promise with a ProtocolError and is not given to the
// "error" subscribers (the caller handles it). Events without a pending id
// (pushed by the server, or with a numeric message id) go to their type's
// subscribers only.

/** SETTLE_MS is how long a request without an answer (say, pm) waits for a refusal. */
export const SETTLE_MS = 5000;

/** ProtocolError is a refused request: code and message come from the error event. */
export class ProtocolError extends Error {
  constructor(code, message, event) {
    super(message || code);
    this.name = "ProtocolError";
    this.code = code;
    this.event = event || null;
  }
}

/** Codes of ProtocolErrors the client makes itself. */
export const NOT_CONNECTED = "not_connected";
export const DISCONNECTED = "disconnected";

/** Protocol sends requests over a connection and hands out the events it receives. */
export class Protocol {
  /** conn needs send(obj) -> bool. */
  constructor(conn) {
    this.conn = conn;
    this.nextId = 1;
    this.pending = new Map(); // id -> {type, ctx, resolve, reject, timer}
    this.subs = new Map();    // type -> [fn]; "*" gets every event
  }

  /**
   * on subscribes fn(event, ctx) to events of a type ("*": all); it
   * returns a function that ends the subscription.
   */
  on(type, fn) {
    const list = this.subs.get(type) || [];
    list.push(fn);
    this.subs.set(type, list);
    return () => {
      const l = this.subs.get(type) || [];
      const i = l.indexOf(fn);
      if (i >= 0) { l.splice(i, 1); }
    };
  }

  /** send writes a request that wants no answer; false when not connected. */
  send(obj) {
    return this.conn.send(obj);
  }

  /**
   * request sends obj with a fresh id. opts.ctx travels to the answer's
   * subscribers; opts.noAnswer is for requests whose success has no
   * answer with their id (say, pm): the Promise resolves with null once
   * SETTLE_MS passed without a refusal. Rejects with a ProtocolError: the
   * server's error, NOT_CONNECTED or, when the socket closes first,
   * DISCONNECTED.
   */
  request(obj, opts = {}) {
    const id = String(this.nextId++);
    const msg = Object.assign({}, obj, { id: id });
    return new Promise((resolve, reject) => {
      const p = { type: msg.type, ctx: opts.ctx || {}, resolve: resolve, reject: reject, timer: 0 };
      this.pending.set(id, p);
      if (!this.conn.send(msg)) {
        this.pending.delete(id);
        reject(new ProtocolError(NOT_CONNECTED, "Not connected to the server."));
        return;
      }
      if (opts.noAnswer) {
        p.timer = setTimeout(() => {
          if (this.pending.get(id) === p) {
            this.pending.delete(id);
            resolve(null);
          }
        }, SETTLE_MS);
      }
    });
  }

  /** receive handles one WebSocket frame: an event or an array of events. */
  receive(data) {
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      return;
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const ev of list) {
      if (ev && typeof ev === "object" && typeof ev.type === "string") { this.dispatch(ev); }
    }
  }

  /** dispatch hands one event to the request it answers and its subscribers. */
  dispatch(ev) {
    let p = null;
    // Request ids are strings; a message's "id" is its number.
    if (typeof ev.id === "string" && this.pending.has(ev.id)) {
      p = this.pending.get(ev.id);
      this.pending.delete(ev.id);
      clearTimeout(p.timer);
    }
    if (p && ev.type === "error") {
      p.reject(new ProtocolError(ev.code || "error", ev.message || ev.code || "Something went wrong.", ev));
      return;
    }
    this.emit(ev.type, ev, p ? p.ctx : null);
    this.emit("*", ev, p ? p.ctx : null);
    if (p) { p.resolve(ev); }
  }

  /** emit runs the subscribers of type; one that throws does not stop the others. */
  emit(type, ev, ctx) {
    const list = this.subs.get(type);
    if (!list) { return; }
    for (const fn of list.slice()) {
      try {
        fn(ev, ctx);
      } catch (e) {
        console.error("parlor: handling " + ev.type + ":", e);
      }
    }
  }

  /** failAll rejects every pending request (the socket closed). */
  failAll() {
    const all = Array.from(this.pending.values());
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new ProtocolError(DISCONNECTED, "The connection was lost."));
    }
  }
}
