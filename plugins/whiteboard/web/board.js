// The client's copy of a room's board and its sync with the module
// (docs/whiteboard.md, "Protocol"): a snapshot (in pages) and its seq on
// entering the room, then the numbered batches of wb.batch in order; a
// gap, an epoch that changed or a reconnect asks wb.sync for what was
// missed. Own changes are applied at once and sent once per animation
// frame as one wb.ops batch.

// beats reports whether a change at (version, nonce) wins over el (the
// module's rule: higher version, on a tie the lower nonce).
function beats(el, version, nonce) {
  return version > el.version || (version === el.version && nonce <= el.nonce);
}

/** nonce is a random tie-breaker for a new version. */
export function nonce() { return Math.floor(Math.random() * 2147483647); }

/** newId is a fresh element id. */
export function newId() {
  const a = new Uint8Array(9);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(36).padStart(2, "0")).join("").slice(0, 16);
}

/** createBoard makes the board of api's rooms; onChange() runs after every change. */
export function createBoard(api, onChange, onStatus) {
  const b = {
    room: 0,
    epoch: "",
    seq: 0,
    saved: 0,
    els: new Map(), // id -> element (erased ones with deleted: true)
    can: { draw: false, moderate: false },
    limits: { frame_bytes: 49152, max_points: 2000, cursors_per_second: 20 },
    syncing: false,
    stale: false, // own changes were refused or lost: take a snapshot
    buffer: [],   // events that arrived while syncing
    out: new Map(), // id -> {put, del, points} of this frame
    frame: 0,
    sending: [],  // batches waiting for the one in flight
    inflight: false,
    localZ: 0
  };

  // put sets element id to el, in place: the element being drawn keeps
  // being the one on the board.
  function put(el) {
    const cur = b.els.get(el.id);
    if (!cur) { b.els.set(el.id, Object.assign({}, el)); return; }
    for (const k of Object.keys(cur)) { delete cur[k]; }
    Object.assign(cur, el);
  }

  // applyOp applies one op of a batch of the module's.
  function applyOp(op) {
    const cur = b.els.get(op.id || (op.el && op.el.id));
    if (op.op === "put") {
      const el = op.el;
      if (cur && el.version === cur.version && el.nonce === cur.nonce) {
        cur.z = el.z;
        cur.by = el.by;
      } else if (!cur || beats(cur, el.version, el.nonce)) {
        put(el);
      } else {
        // One's own element, changed here since: keep it, take its place.
        cur.z = el.z;
        cur.by = el.by;
      }
    } else if (op.op === "append") {
      if (cur && !cur.deleted && op.version > cur.version) {
        cur.points = cur.points.concat(op.points);
        cur.version = op.version;
      }
    } else if (op.op === "delete") {
      if (!cur) {
        b.els.set(op.id, { id: op.id, deleted: true, version: op.version, nonce: op.nonce, points: [] });
      } else if (beats(cur, op.version, op.nonce)) {
        cur.deleted = true;
        cur.version = op.version;
        cur.nonce = op.nonce;
      }
    }
  }

  // onBatches handles a wb.batch event (or the batches of a sync answer).
  function onBatches(epoch, batches) {
    if (epoch !== b.epoch) { resync(false); return; }
    for (const bt of batches) {
      if (bt.seq <= b.seq) { continue; }
      if (bt.seq !== b.seq + 1) { resync(true); return; }
      for (const op of bt.ops) { applyOp(op); }
      b.seq = bt.seq;
    }
    onChange();
  }

  function onReset(ev) {
    b.epoch = ev.epoch;
    b.seq = ev.seq;
    b.els = new Map();
    onChange({ reset: ev });
  }

  // handle takes a board event now, or after the sync under way.
  function handle(ev) {
    if (!b.room || ev.room !== b.room) { return; }
    if (b.syncing) { b.buffer.push(ev); return; }
    if (ev.type === "wb.batch") { onBatches(ev.data.epoch, ev.data.batches); }
    if (ev.type === "wb.reset") { onReset(ev.data); }
  }

  function adopt(r) {
    b.epoch = r.epoch;
    b.saved = r.saved;
    b.can = r.can || b.can;
    b.limits = r.limits || b.limits;
  }

  // resync asks for what this board missed (gap true: the batches since
  // its seq, when the module still has them) or for a snapshot.
  async function resync(gap) {
    if (b.syncing || !b.room) { return; }
    b.syncing = true;
    const room = b.room;
    try {
      let r = await api.send("wb.sync", gap && b.epoch ? { room, epoch: b.epoch, since: b.seq } : { room });
      if (room !== b.room) { return; }
      if (!r.snapshot) {
        adopt(r);
        for (;;) {
          for (const bt of r.batches || []) {
            if (bt.seq === b.seq + 1) {
              for (const op of bt.ops) { applyOp(op); }
              b.seq = bt.seq;
            }
          }
          if (!r.more) { break; }
          r = await api.send("wb.sync", { room, epoch: b.epoch, since: b.seq });
          if (room !== b.room || r.snapshot) { break; }
        }
      }
      while (r.snapshot) {
        // A snapshot: every page of one epoch, then the batches that
        // arrived meanwhile on top (their versions decide).
        const els = new Map();
        const first = r;
        let page = r;
        for (;;) {
          for (const el of page.elements || []) { els.set(el.id, el); }
          if (!page.next) { break; }
          page = await api.send("wb.sync", { room, epoch: first.epoch, after: page.next });
          if (room !== b.room) { return; }
          if (page.epoch !== first.epoch) { break; }
        }
        if (page.epoch !== first.epoch) { r = page; continue; }
        adopt(first);
        b.seq = first.seq;
        b.els = els;
        break;
      }
      b.saved = Math.max(b.saved, r.saved);
      b.stale = false;
    } catch (e) {
      // The next entry takes a whole snapshot.
      b.stale = true;
      onStatus("The whiteboard could not be loaded: " + e.message);
    } finally {
      b.syncing = false;
    }
    if (room !== b.room) { return; }
    onChange({ synced: true });
    const buffered = b.buffer;
    b.buffer = [];
    for (const ev of buffered) { handle(ev); }
  }

  // enter starts the board of a room: a fresh snapshot for another room
  // (or another epoch), only what was missed for the same one.
  function enter(room) {
    if (room !== b.room) {
      b.room = room;
      b.epoch = "";
      b.seq = 0;
      b.els = new Map();
      b.out = new Map();
      b.buffer = [];
      b.syncing = false;
      onChange({ reset: { reason: "entered" } });
    }
    resync(!!b.epoch && !b.stale);
  }

  // offline keeps the board as it is, read-only, until the room is
  // entered again.
  function offline() {
    b.can = { draw: false, moderate: false };
    b.out = new Map();
    b.sending = [];
    onChange();
  }

  function leave() {
    b.room = 0;
    b.epoch = "";
    b.els = new Map();
    b.buffer = [];
    onChange({ reset: { reason: "left" } });
  }

  // queue notes a local change of element id for this frame's batch:
  // "put" (the whole element), "append" (points added) or "delete".
  function queue(id, what, points) {
    let o = b.out.get(id);
    if (!o) { o = { put: false, del: false, points: [] }; b.out.set(id, o); }
    if (what === "put") { o.put = true; o.del = false; o.points = []; }
    if (what === "append" && !o.put) { o.points = o.points.concat(points); }
    if (what === "delete") { o.del = true; }
    if (!b.frame) { b.frame = requestAnimationFrame(flush); }
  }

  // flush sends this frame's changes as wb.ops batches of at most
  // frame_bytes.
  function flush() {
    b.frame = 0;
    const ops = [];
    for (const [id, o] of b.out) {
      const el = b.els.get(id);
      if (!el) { continue; }
      if (o.del) {
        ops.push({ op: "delete", id, version: el.version, nonce: el.nonce });
      } else if (o.put) {
        // A copy: the batch may wait for the one in flight while the
        // stroke goes on (its new points travel as the next append).
        const { z, by, ...rest } = el;
        ops.push({ op: "put", el: Object.assign(rest, { points: el.points.slice() }) });
      } else if (o.points.length) {
        ops.push({ op: "append", id, points: o.points, version: el.version });
      }
    }
    b.out = new Map();
    const limit = b.limits.frame_bytes - 512;
    let batch = [], size = 0;
    for (const op of ops) {
      const n = JSON.stringify(op).length + 1;
      if (batch.length && size + n > limit) { b.sending.push(batch); batch = []; size = 0; }
      batch.push(op);
      size += n;
    }
    if (batch.length) { b.sending.push(batch); }
    pump();
  }

  // pump sends the next batch once the one before is answered: the
  // module takes the commands of a connection in any order, and an
  // append must not overtake the put that creates its stroke.
  function pump() {
    if (b.inflight || !b.sending.length) { return; }
    const ops = b.sending.shift();
    const room = b.room;
    b.inflight = true;
    const done = () => {
      b.inflight = false;
      if (room === b.room) { pump(); } else { b.sending = []; }
    };
    api.send("wb.ops", { room, ops }).then((r) => {
      done();
      if (room !== b.room) { return; }
      for (const rej of r.rejected || []) {
        if (rej.current) { put(rej.current); } else { b.els.delete(rej.id); }
      }
      if (r.rejected && r.rejected.length) { onChange(); }
    }, (e) => {
      done();
      onStatus(e.message || String(e));
      if (room === b.room) { b.sending = []; b.stale = true; resync(false); }
    });
  }

  /** local applies an own change to the board at once. */
  function local(el) {
    if (el.z === undefined) { el.z = 1e15 + (b.localZ++); }
    b.els.set(el.id, el);
  }

  api.on("wb.batch", handle);
  api.on("wb.reset", handle);
  return { state: b, enter, leave, offline, queue, local, resync, flush };
}
