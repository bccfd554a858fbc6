// The whiteboard module's web client extension: a "Whiteboard" button in
// rooms with a whiteboard opens the board over the chat. Pointer Events
// draw with a mouse, a pen or a finger: pen, line, arrow, rectangle,
// ellipse, text and eraser, in a colour and a width; undo and redo of
// one's own changes; clear (moderators); PNG and SVG export; the other
// members' pointers. docs/whiteboard.md describes the protocol.

import { BOARD_W, BOARD_H, drawElement, fontSize, hit, svgDocument } from "./draw.js";
import { createBoard, newId, nonce } from "./board.js";

const TOOLS = [
  ["pen", "Pen"], ["line", "Line"], ["arrow", "Arrow"], ["rect", "Rectangle"],
  ["ellipse", "Ellipse"], ["text", "Text"], ["eraser", "Eraser"]
];
const SHAPES = { line: "line", arrow: "arrow", rect: "rect", ellipse: "ellipse" };
const CURSOR_TTL = 5000; // ms a remote pointer stays without moving

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

function button(label, name) {
  const b = el("button", "btn btn-ghost btn-small wb-btn", label);
  b.type = "button";
  b.setAttribute("data-wb", name);
  return b;
}

export default function (api) {
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/plugins/" + api.module + "/style.css";
  document.head.appendChild(css);

  let open = false;
  let dirty = true;
  let tool = "pen";
  let drawing = null; // the element or gesture under way
  const undo = [], redo = [];
  const cursors = new Map(); // user -> {node, at}
  let lastCursor = 0;

  // The overlay.
  const overlay = el("div", "wb-overlay");
  overlay.hidden = true;
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "Whiteboard");
  const bar = el("div", "wb-bar");
  const tools = el("div", "wb-tools");
  for (const [name, label] of TOOLS) {
    const t = button(label, "tool");
    t.setAttribute("data-tool", name);
    t.setAttribute("aria-pressed", String(name === tool));
    t.addEventListener("click", () => setTool(name));
    tools.appendChild(t);
  }
  const color = el("input", "wb-color");
  color.type = "color";
  color.value = "#1e1e1e";
  color.title = "Colour";
  const width = el("input", "wb-width");
  width.type = "range";
  width.min = "1";
  width.max = "24";
  width.value = "3";
  width.title = "Width";
  const bUndo = button("Undo", "undo"), bRedo = button("Redo", "redo");
  const bClear = button("Clear", "clear"), bArchive = button("Archive", "archive");
  const bPNG = button("PNG", "png"), bSVG = button("SVG", "svg");
  const bClose = button("Close", "close");
  const status = el("span", "wb-status");
  status.setAttribute("role", "status");
  bar.append(tools, color, width, bUndo, bRedo, bClear, bArchive, bPNG, bSVG, status, bClose);
  const stage = el("div", "wb-stage");
  const canvas = el("canvas", "wb-canvas");
  const layer = el("div", "wb-cursors");
  stage.append(canvas, layer);
  overlay.append(bar, stage);
  document.body.appendChild(overlay);
  const ctx = canvas.getContext("2d");

  const board = createBoard(api, changed, say);
  const st = board.state;

  function say(text) { status.textContent = text; }

  function me() { const u = api.user(); return u ? u.name : ""; }

  function changed(info) {
    if (info && info.reset) {
      undo.length = 0;
      redo.length = 0;
      for (const c of cursors.values()) { c.node.remove(); }
      cursors.clear();
      if (info.reset.by && info.reset.by !== me()) { say("The board was " + info.reset.reason + " by " + info.reset.by + "."); }
    }
    dirty = true;
    overlay.dataset.seq = String(st.seq);
    overlay.dataset.epoch = st.epoch;
    bClear.hidden = !st.can.moderate;
    bArchive.hidden = !st.can.moderate;
    overlay.classList.toggle("wb-readonly", !st.can.draw);
    if (info && info.synced) { say(st.can.draw ? "" : "You may look at this board but not draw on it."); }
  }

  // Drawing order: the module's z, then own elements it has not placed yet.
  function visible() {
    return [...st.els.values()].filter((e) => !e.deleted && e.kind).sort((a, b) => a.z - b.z);
  }

  function fit() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      dirty = true;
    }
  }

  function render(c, w, h, els) {
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, w, h);
    c.setTransform(w / BOARD_W, 0, 0, h / BOARD_H, 0, 0);
    for (const e of els || visible()) { drawElement(c, e); }
  }

  // The board is drawn as a cached picture of the elements at rest and,
  // on top, the ones that changed in the last HOT_MS (strokes being drawn,
  // shapes being dragged), so a frame costs the changing elements only.
  // An element joins the picture once it rests; until then it may show
  // above elements that are in fact above it.
  const HOT_MS = 300;
  const base = document.createElement("canvas");
  const baseCtx = base.getContext("2d");
  let baseEls = new Map(); // id -> version drawn in base
  const seen = new Map();  // id -> [version, time it was first seen]

  function paint() {
    const now = performance.now();
    const els = visible();
    const rest = [], hot = [];
    for (const e of els) {
      const v = seen.get(e.id);
      if (!v || v[0] !== e.version) { seen.set(e.id, [e.version, now]); }
      (now - seen.get(e.id)[1] < HOT_MS ? hot : rest).push(e);
    }
    let same = base.width === canvas.width && base.height === canvas.height && rest.length === baseEls.size;
    for (let i = 0; same && i < rest.length; i++) { same = baseEls.get(rest[i].id) === rest[i].version; }
    if (!same) {
      base.width = canvas.width;
      base.height = canvas.height;
      render(baseCtx, base.width, base.height, rest);
      baseEls = new Map(rest.map((e) => [e.id, e.version]));
      if (seen.size > 2 * els.length + 100) {
        for (const id of seen.keys()) { if (!st.els.has(id)) { seen.delete(id); } }
      }
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(base, 0, 0);
    ctx.setTransform(canvas.width / BOARD_W, 0, 0, canvas.height / BOARD_H, 0, 0);
    for (const e of hot) { drawElement(ctx, e); }
    // Hot elements come to rest without a change: draw again until then.
    if (hot.length) { dirty = true; }
    return els.length;
  }

  function frame() {
    if (open) {
      fit();
      if (dirty) {
        dirty = false;
        overlay.dataset.elements = String(paint());
      }
      const now = Date.now();
      for (const [u, c] of cursors) {
        if (now - c.at > CURSOR_TTL) { c.node.remove(); cursors.delete(u); }
      }
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  // The toolbar button, in rooms with a whiteboard.
  const open_ = api.addToolbarButton({ id: "open", label: "Whiteboard", onClick: () => show(!open) });
  open_.el.hidden = true;

  function show(on) {
    open = on && !!st.room;
    overlay.hidden = !open;
    open_.el.setAttribute("aria-pressed", String(open));
    dirty = true;
  }

  function roomChanged() {
    const r = api.room();
    if (r && r.wb) {
      open_.el.hidden = false;
      if (st.room !== r.id) { board.enter(r.id); }
    } else {
      open_.el.hidden = true;
      if (st.room) { board.leave(); }
      show(false);
    }
  }
  api.on("joined", () => {
    // Entering again (a reconnect) asks only for what was missed.
    const r = api.room();
    if (r && r.wb && st.room === r.id) { board.enter(r.id); }
    roomChanged();
  });
  api.on("left", roomChanged);
  api.on("rooms_delta", roomChanged);
  api.on("rooms", roomChanged);
  api.on("logged_out", roomChanged);
  api.on("disconnected", () => {
    if (!st.room) { return; }
    if (drawing) { finish(); }
    board.offline();
    say("Connection lost: the board is read-only until it is back.");
  });
  roomChanged();

  // Remote pointers.
  api.on("wb.cursors", (ev) => {
    if (!open || ev.room !== st.room) { return; }
    for (const c of ev.data.cursors) {
      if (c.user === me()) { continue; }
      let k = cursors.get(c.user);
      if (!k) {
        const node = el("div", "wb-cursor");
        node.setAttribute("data-user", c.user);
        node.appendChild(el("span", "wb-cursor-name", c.user));
        layer.appendChild(node);
        k = { node, at: 0 };
        cursors.set(c.user, k);
      }
      k.at = Date.now();
      k.node.style.left = (c.x / BOARD_W * 100) + "%";
      k.node.style.top = (c.y / BOARD_H * 100) + "%";
    }
  });

  function setTool(name) {
    tool = name;
    for (const t of tools.children) { t.setAttribute("aria-pressed", String(t.getAttribute("data-tool") === name)); }
    canvas.setAttribute("data-tool", name);
  }
  setTool(tool);

  function pos(e) {
    const r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) / r.width * BOARD_W * 10) / 10, Math.round((e.clientY - r.top) / r.height * BOARD_H * 10) / 10];
  }

  function style() { return { color: color.value, width: Number(width.value) }; }

  function mine(e) { return e.by === undefined || e.by === me() || st.can.moderate; }

  // record keeps a change for undo: the element before and after.
  function record(before, after) {
    undo.push({ before: before && clone(before), after: after && clone(after) });
    if (undo.length > 200) { undo.shift(); }
    redo.length = 0;
  }

  function clone(e) { return JSON.parse(JSON.stringify(e)); }

  // restore puts element state s (or erases it, for null) as a new version.
  function restore(id, s) {
    const cur = st.els.get(id);
    if (cur && !mine(cur)) { say("That is no longer yours to change."); return false; }
    const version = (cur ? cur.version : 0) + 1;
    if (!s) {
      if (!cur || cur.deleted) { return true; }
      cur.deleted = true;
      cur.version = version;
      cur.nonce = nonce();
      board.queue(id, "delete");
    } else {
      const e = Object.assign(clone(s), { version, nonce: nonce(), deleted: false });
      if (cur) { e.z = cur.z; e.by = cur.by; }
      board.local(e);
      board.queue(id, "put");
    }
    dirty = true;
    return true;
  }

  function step(from, to, swap) {
    const a = from.pop();
    if (!a) { return; }
    const id = (a.before || a.after).id;
    if (restore(id, swap ? a.after : a.before)) { to.push(a); }
  }
  bUndo.addEventListener("click", () => step(undo, redo, false));
  bRedo.addEventListener("click", () => step(redo, undo, true));

  // armed asks for a second click within 3 s before fn runs: clearing
  // and archiving empty the board for everyone.
  function armed(btn, ask, fn) {
    const label = btn.textContent;
    let timer = 0;
    btn.addEventListener("click", () => {
      if (!timer) {
        btn.textContent = ask;
        btn.setAttribute("data-armed", "true");
        timer = setTimeout(reset, 3000);
        return;
      }
      reset();
      fn();
    });
    function reset() {
      clearTimeout(timer);
      timer = 0;
      btn.textContent = label;
      btn.removeAttribute("data-armed");
    }
  }
  armed(bClear, "Clear for everyone?", () => {
    api.send("wb.clear", { room: st.room }).catch((e) => say("Not cleared: " + e.message));
  });
  armed(bArchive, "Archive and clear?", () => {
    api.send("wb.archive", { room: st.room }).then((r) => say("Archived " + r.elements + " elements; the board is empty."),
      (e) => say("Not archived: " + e.message));
  });
  bClose.addEventListener("click", () => show(false));
  bPNG.addEventListener("click", () => {
    const c = document.createElement("canvas");
    c.width = BOARD_W;
    c.height = BOARD_H;
    render(c.getContext("2d"), BOARD_W, BOARD_H);
    c.toBlob((blob) => download(blob, "whiteboard.png"), "image/png");
  });
  bSVG.addEventListener("click", () => {
    download(new Blob([svgDocument(visible())], { type: "image/svg+xml" }), "whiteboard.svg");
  });

  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  function measure(e) {
    ctx.save();
    ctx.font = fontSize(e) + "px sans-serif";
    const w = ctx.measureText(e.text || "").width;
    ctx.restore();
    return w;
  }

  // erase takes away the topmost own element under the pointer.
  function erase(x, y) {
    const els = visible().reverse();
    for (const e of els) {
      if (mine(e) && hit(e, x, y, 6, measure)) {
        record(e, null);
        restore(e.id, null);
        return;
      }
    }
  }

  function sendCursor(x, y) {
    const now = Date.now();
    if (now - lastCursor < 1000 / Math.max(1, st.limits.cursors_per_second || 20) * 1.2) { return; }
    lastCursor = now;
    api.send("wb.cursor", { room: st.room, x, y }).catch(() => {});
  }

  function startText(x, y) {
    const input = el("input", "wb-text-input");
    input.type = "text";
    input.maxLength = 500;
    input.style.left = (x / BOARD_W * 100) + "%";
    input.style.top = (y / BOARD_H * 100) + "%";
    layer.appendChild(input);
    let done = false;
    const commit = (keep) => {
      if (done) { return; }
      done = true;
      const text = input.value.trim();
      input.remove();
      if (!keep || !text) { return; }
      if (new TextEncoder().encode(text).length > (st.limits.max_text_bytes || 1000)) {
        say("A text has at most " + st.limits.max_text_bytes + " bytes.");
        return;
      }
      const e = Object.assign({ id: newId(), kind: "text", points: [x, y], text, version: 1, nonce: nonce() }, style());
      board.local(e);
      board.queue(e.id, "put");
      record(null, e);
      dirty = true;
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { commit(true); }
      if (ev.key === "Escape") { commit(false); }
    });
    input.addEventListener("blur", () => commit(true));
    setTimeout(() => input.focus(), 0);
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") { return; }
    if (!st.can.draw) { say("You may look at this board but not draw on it."); return; }
    e.preventDefault();
    const [x, y] = pos(e);
    if (tool === "text") { startText(x, y); return; }
    canvas.setPointerCapture(e.pointerId);
    if (tool === "eraser") { drawing = { eraser: true, pointer: e.pointerId }; erase(x, y); return; }
    const s = style();
    const kind = tool === "pen" ? "freehand" : SHAPES[tool];
    const el_ = Object.assign({ id: newId(), kind, points: kind === "freehand" ? [x, y] : [x, y, x, y], version: 1, nonce: nonce() }, s);
    board.local(el_);
    board.queue(el_.id, "put");
    drawing = { el: el_, pointer: e.pointerId };
    dirty = true;
  });

  function extend(e) {
    const d = drawing;
    const [x, y] = pos(e);
    if (d.eraser) { erase(x, y); return; }
    const p = d.el.points;
    if (d.el.kind === "freehand") {
      const lx = p[p.length - 2], ly = p[p.length - 1];
      if (Math.hypot(x - lx, y - ly) < 1.5) { return; }
      if (p.length / 2 >= st.limits.max_points) {
        // A long stroke goes on as a new one.
        finish();
        const n = Object.assign({ id: newId(), kind: "freehand", points: [lx, ly, x, y], version: 1, nonce: nonce() }, style());
        board.local(n);
        board.queue(n.id, "put");
        drawing = { el: n, pointer: d.pointer };
        return;
      }
      p.push(x, y);
      d.el.version++;
      board.queue(d.el.id, "append", [x, y]);
    } else {
      p[2] = x;
      p[3] = y;
      d.el.version++;
      board.queue(d.el.id, "put");
    }
    dirty = true;
  }

  canvas.addEventListener("pointermove", (e) => {
    if (st.can.draw && st.room) { sendCursor(...pos(e)); }
    if (!drawing || e.pointerId !== drawing.pointer) { return; }
    const list = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const c of list.length ? list : [e]) { if (drawing) { extend(c); } }
  });

  function finish() {
    const d = drawing;
    drawing = null;
    if (!d || d.eraser) { return; }
    record(null, d.el);
  }
  canvas.addEventListener("pointerup", (e) => { if (drawing && e.pointerId === drawing.pointer) { finish(); } });
  canvas.addEventListener("pointercancel", (e) => { if (drawing && e.pointerId === drawing.pointer) { finish(); } });

  document.addEventListener("keydown", (e) => {
    if (!open || e.target instanceof HTMLInputElement) { return; }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      if (e.shiftKey) { step(redo, undo, true); } else { step(undo, redo, false); }
    }
    if (e.key === "Escape") { show(false); }
  });
}
