// The room list, the current room's head, joining (with the password
// dialog) and leaving.

import { badge, listItem, node, svgIcon, syncList } from "../dom.js";
import { DISCONNECTED, NOT_CONNECTED } from "../protocol.js";

/** createRooms wires the room list into app. */
export function createRooms(app) {
  const { el, state, proto } = app;

  function find(id) {
    return state.rooms.find((r) => r.id === id) || null;
  }

  function upsert(r) {
    const i = state.rooms.findIndex((x) => x.id === r.id);
    if (i >= 0) { state.rooms[i] = r; } else { state.rooms.push(r); }
  }

  // textRoom is false for a room meant for avatar clients only (st 2):
  // the protocol lists it, this client does not.
  function textRoom(r) { return r.st !== 2; }

  // when writes an RFC 3339 instant of a room's timetable in the room's
  // zone: "8 Dec, 09:00 CET".
  function when(iso, tz) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    const opts = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
    try {
      return d.toLocaleString(undefined, tz ? Object.assign({ timeZone: tz }, opts) : opts);
    } catch (e) {
      return d.toLocaleString(undefined, opts);
    }
  }

  function showError(text) {
    el.roomError.textContent = text;
    el.roomError.hidden = false;
  }

  function hideError() {
    el.roomError.hidden = true;
    el.roomError.textContent = "";
  }

  function render() {
    const rooms = state.rooms.filter(textRoom).sort((a, b) => a.id - b.id);
    const guest = state.me && state.me.guest;
    const badges = app.ext ? app.ext.roomBadges : [];
    syncList(el.rooms, rooms, "data-room-id", (r) => String(r.id), (k) => {
      return listItem("room-button", () => {
        const r = find(Number(k));
        if (r) { choose(r); }
      });
    }, (li, r) => {
      li.className = "room";
      li.setAttribute("data-locked", r.locked ? "true" : "false");
      li.setAttribute("data-open", r.open === false ? "false" : "true");
      li.setAttribute("data-guests", r.guests === false ? "false" : "true");
      if (r.schedule) { li.setAttribute("data-schedule", r.schedule); } else { li.removeAttribute("data-schedule"); }
      const current = state.room && state.room.id === r.id;
      if (current) { li.classList.add("current"); }
      if (r.open === false) { li.classList.add("closed"); }
      if (guest && r.guests === false) { li.classList.add("unavailable"); }

      const btn = li.firstChild;
      btn.textContent = "";
      if (current) { btn.setAttribute("aria-current", "true"); } else { btn.removeAttribute("aria-current"); }

      btn.appendChild(node("span", "room-name", r.name));
      if (r.locked) {
        btn.appendChild(svgIcon("lock"));
        btn.appendChild(node("span", "sr-only", " (password)"));
      }
      const count = node("span", "room-count-badge", r.max ? r.count + "/" + r.max : String(r.count || 0));
      count.setAttribute("aria-label", r.max ? r.count + " of " + r.max + " people" : (r.count || 0) + " people");
      btn.appendChild(count);

      const extras = node("span", "room-flags");
      if (r.open === false) { extras.appendChild(badge("closed", "badge-closed")); }
      if (r.opens) { extras.appendChild(badge("opens " + when(r.opens, r.tz), "badge-opens")); }
      if (r.closes) { extras.appendChild(badge("until " + when(r.closes, r.tz), "badge-closes")); }
      if (r.guests === false) { extras.appendChild(badge("members only", "badge-members")); }
      if (r.max && r.count >= r.max) { extras.appendChild(badge("full", "badge-full")); }
      for (const b of badges) {
        const text = app.ext.roomBadgeText(b, r);
        if (text) { extras.appendChild(badge(text, "badge-ext")); }
      }
      if (extras.childNodes.length) { btn.appendChild(extras); }

      if (r.desc) { btn.appendChild(node("span", "room-desc-line", r.desc)); }
      btn.title = r.locked ? "Join " + r.name + " (password needed)" : "Join " + r.name;
    });
    el.roomsEmpty.hidden = rooms.length > 0;
  }

  function renderHead() {
    const r = state.room;
    if (!r) {
      el.roomTitle.textContent = "No room";
      el.roomDesc.textContent = "Pick a room from the list to start chatting.";
      el.roomCount.hidden = true;
      el.leave.hidden = true;
      return;
    }
    el.roomTitle.textContent = r.name;
    el.roomDesc.textContent = r.desc || "";
    el.roomCount.textContent = r.max ? r.count + "/" + r.max : String(r.count || 0);
    el.roomCount.setAttribute("title", r.max ? r.count + " of " + r.max + " people" : (r.count || 0) + " people");
    el.roomCount.hidden = false;
    el.leave.hidden = false;
  }

  // join enters room id; a silent join (the rejoin after a reconnect)
  // leaves the focus alone and shows note under the room's greeting.
  function join(id, password, silent, note) {
    hideError();
    const msg = { type: "join", room: id };
    if (password) { msg.password = password; }
    proto.request(msg, { ctx: { room: id, password: password || "", silent: !!silent, note: note || "" } }).catch((err) => {
      if (err.code === DISCONNECTED) { return; }
      if (err.code === NOT_CONNECTED) {
        showError("Not connected to the server.");
        return;
      }
      if (err.code === "room_password") {
        openPasswordDialog(find(id) || { id: id, name: "room " + id }, err.message);
        return;
      }
      showError(err.message);
    });
  }

  function choose(r) {
    if (state.room && state.room.id === r.id) {
      app.panels.close();
      return;
    }
    if (r.locked) {
      openPasswordDialog(r, "");
      return;
    }
    join(r.id, "");
  }

  // ---- room password dialog ----------------------------------------------

  function openPasswordDialog(r, errorText) {
    state.pwRoom = r;
    el.pwText.textContent = "\u201c" + r.name + "\u201d needs a password.";
    el.pwInput.value = "";
    if (errorText) {
      el.pwError.textContent = errorText;
      el.pwError.hidden = false;
    } else {
      el.pwError.hidden = true;
    }
    if (!el.pwDialog.open) { el.pwDialog.showModal(); }
    el.pwInput.focus();
  }

  function closePasswordDialog() {
    state.pwRoom = null;
    if (el.pwDialog.open) { el.pwDialog.close(); }
  }

  el.pwForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const r = state.pwRoom;
    if (!r) { closePasswordDialog(); return; }
    const pw = el.pwInput.value;
    if (!pw) {
      el.pwError.textContent = "Please enter the room password.";
      el.pwError.hidden = false;
      el.pwInput.focus();
      return;
    }
    el.pwError.hidden = true;
    join(r.id, pw);
  });
  el.pwCancel.addEventListener("click", closePasswordDialog);
  el.pwDialog.addEventListener("close", () => { state.pwRoom = null; });

  el.leave.addEventListener("click", () => {
    if (!state.room) { return; }
    proto.request({ type: "leave" }).catch((err) => {
      if (err.code !== DISCONNECTED && err.code !== NOT_CONNECTED) { app.messages.addLine("error", err.message); }
    });
  });

  // ---- events -------------------------------------------------------------

  proto.on("rooms", (ev) => {
    state.rooms = Array.isArray(ev.rooms) ? ev.rooms : [];
    if (state.room) {
      const r = find(state.room.id);
      if (r) {
        state.room = r;
        renderHead();
      }
    }
    render();
  });

  // rooms_delta: what changed since the last rooms event or delta (head
  // counts, rooms added or changed whole, rooms removed); applied to the
  // list, so the whole list comes only at login.
  proto.on("rooms_delta", (ev) => {
    const list = (v) => (Array.isArray(v) ? v : []);
    for (const c of list(ev.counts)) {
      const r = c && find(c.id);
      if (r && typeof c.count === "number") { r.count = c.count; }
    }
    for (const r of list(ev.changed)) {
      if (r && typeof r.id === "number") { upsert(r); }
    }
    const gone = new Set(list(ev.removed));
    if (gone.size) { state.rooms = state.rooms.filter((r) => !gone.has(r.id)); }
    if (state.room) {
      const r = find(state.room.id);
      if (r) { state.room = r; }
      renderHead();
    }
    render();
  });

  proto.on("joined", (ev, ctx) => {
    const r = ev.room || {};
    state.room = r;
    state.roomPassword = ctx && ctx.password ? ctx.password : "";
    app.users.set(ev);
    upsert(r);
    hideError();
    closePasswordDialog();
    app.messages.clear();
    const history = Array.isArray(ev.history) ? ev.history : [];
    if (history.length) {
      app.messages.addLine("divider", "Earlier messages");
      history.forEach((m) => { app.messages.addMessage(m, true); });
    }
    app.messages.addLine("info", "You are in " + (r.name || "room " + r.id) + ".");
    if (ev.welcome) { app.messages.addLine("welcome", ev.welcome); }
    if (ctx && ctx.note) { app.messages.addLine("info", ctx.note); }
    renderHead();
    render();
    app.users.render();
    app.compose.update();
    app.panels.close();
    if (!ctx || !ctx.silent) { el.text.focus(); }
  });

  proto.on("left", (ev) => {
    if (!state.room || ev.room !== state.room.id) { return; }
    const name = state.room.name;
    state.room = null;
    state.roomPassword = "";
    app.users.clear();
    app.messages.addLine("info", ev.reason ? "You left " + name + ": " + ev.reason : "You left " + name + ".");
    renderHead();
    render();
    app.users.render();
    app.compose.update();
  });

  return { find: find, render: render, renderHead: renderHead, join: join };
}
