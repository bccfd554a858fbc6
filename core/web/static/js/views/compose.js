// The input bar: text with its style, the emoticon picker, the private
// message target and the slash commands of extensions.

import { COLOR_RE, applyStyle, node } from "../dom.js";
import { EMOTICONS, emoticon, emoticonName } from "../emoticons.js";
import { DISCONNECTED } from "../protocol.js";

/** createCompose wires the input bar into app. */
export function createCompose(app) {
  const { el, state, conn, proto } = app;
  state.style = { b: false, i: false, u: false, color: "" };
  state.emotion = "";
  state.pm = "";
  // Mutes in force on this user, by sanction id: {room (0: everywhere),
  // until (a Date, or null until lifted)}, from sanctioned events.
  state.mutes = new Map();
  let muteTimer = null;

  // muted returns the mute that applies to what the box would send (a
  // room message, or a private one, which only a mute of everywhere
  // stops), or null; expired mutes are dropped.
  function muted() {
    const now = Date.now();
    let found = null;
    for (const [id, m] of state.mutes) {
      if (m.until && m.until.getTime() <= now) { state.mutes.delete(id); continue; }
      if (m.room === 0 || (!state.pm && state.room && m.room === state.room.id)) {
        if (!found || (found.until && (!m.until || m.until > found.until))) { found = m; }
      }
    }
    return found;
  }

  // scheduleUnmute updates the box when the next mute ends.
  function scheduleUnmute() {
    if (muteTimer) { clearTimeout(muteTimer); muteTimer = null; }
    let next = null;
    for (const m of state.mutes.values()) {
      if (m.until && (!next || m.until < next)) { next = m.until; }
    }
    if (next) {
      muteTimer = setTimeout(() => { update(); scheduleUnmute(); }, Math.min(Math.max(next.getTime() - Date.now(), 0) + 250, 0x7fffffff));
    }
  }

  function update() {
    const online = conn.open && !!state.me;
    const mute = online ? muted() : null;
    const can = online && (!!state.room || !!state.pm) && !mute;
    el.text.disabled = !can;
    el.send.disabled = !can;
    el.emotionButton.disabled = !can;
    el.compose.classList.toggle("compose-muted", !!mute);
    if (!online) {
      el.text.placeholder = "Not connected";
    } else if (mute) {
      el.text.placeholder = "You are muted" + (mute.room ? " in this room" : "") +
        (mute.until ? " until " + mute.until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "");
    } else if (state.pm) {
      el.text.placeholder = "Private message to " + state.pm;
    } else if (state.room) {
      el.text.placeholder = "Message " + state.room.name;
    } else {
      el.text.placeholder = "Join a room to chat";
    }
    applyStyle(el.text, state.style);
  }

  function setPM(name) {
    if (state.me && name === state.me.name) { name = ""; }
    state.pm = name || "";
    el.pmTo.textContent = state.pm;
    el.pmTo.setAttribute("data-user", state.pm);
    el.pmBar.hidden = !state.pm;
    el.compose.classList.toggle("compose-pm", !!state.pm);
    app.users.render();
    update();
    if (state.pm) { app.panels.close(); }
    el.text.focus();
  }

  // endPM stops the private message, whose partner is gone, and says
  // where the messages go now.
  function endPM(why) {
    setPM("");
    app.messages.addLine("info", why + (state.room ? "; your messages go to the room again." : "; the private message is cancelled."));
  }

  // ---- emoticons ----------------------------------------------------------

  function setEmotion(code) {
    state.emotion = code || "";
    el.emotionButton.textContent = "";
    const face = emoticon(state.emotion || "e1", 20);
    el.emotionButton.appendChild(face);
    el.emotionButton.classList.toggle("tool-emotion-set", !!state.emotion);
    el.emotionButton.setAttribute("aria-pressed", state.emotion ? "true" : "false");
    el.emotionButton.setAttribute("data-emotion", state.emotion);
    el.emotionButton.title = state.emotion ? "Emoticon: " + emoticonName(state.emotion) + " (sent with your next message)" : "Add an emoticon";
    el.emotionButton.appendChild(node("span", "sr-only", el.emotionButton.title));
  }

  function buildPicker() {
    const none = node("button", "emotion-choice emotion-none", "\u2715");
    none.type = "button";
    none.title = "No emoticon";
    none.setAttribute("data-emotion", "");
    el.emotionPicker.appendChild(none);
    for (const code of EMOTICONS) {
      const b = node("button", "emotion-choice");
      b.type = "button";
      b.title = emoticonName(code);
      b.setAttribute("data-emotion", code);
      b.appendChild(emoticon(code, 24));
      el.emotionPicker.appendChild(b);
    }
    el.emotionPicker.addEventListener("click", (e) => {
      const b = e.target.closest(".emotion-choice");
      if (!b) { return; }
      setEmotion(b.getAttribute("data-emotion"));
      closePicker();
      el.text.focus();
    });
  }

  function openPicker() {
    el.emotionPicker.hidden = false;
    el.emotionButton.setAttribute("aria-expanded", "true");
    const first = el.emotionPicker.querySelector('[data-emotion="' + (state.emotion || "e1") + '"]');
    if (first) { first.focus(); }
  }

  function closePicker() {
    el.emotionPicker.hidden = true;
    el.emotionButton.setAttribute("aria-expanded", "false");
  }

  // ---- sending ------------------------------------------------------------

  function sendText() {
    const text = el.text.value;
    if (!text.trim()) { return; }
    if (app.ext.runCommand(text)) {
      el.text.value = "";
      el.text.focus();
      return;
    }
    if (!conn.open || !state.me) { return; }
    const style = {};
    if (state.style.b) { style.b = true; }
    if (state.style.i) { style.i = true; }
    if (state.style.u) { style.u = true; }
    if (COLOR_RE.test(state.style.color)) { style.color = state.style.color; }
    let msg;
    const to = state.pm;
    if (to) {
      msg = { type: "pm", to: to, text: text, style: style };
    } else if (state.room) {
      msg = { type: "say", text: text, style: style };
    } else {
      return;
    }
    if (state.emotion) { msg.emotion = state.emotion; }
    proto.request(msg, { noAnswer: true }).catch((err) => {
      if (err.code === DISCONNECTED) { return; }
      app.messages.addLine("error", err.message);
      if (!el.text.value) { el.text.value = text; }
      if (err.code === "no_such_user_online" && msg.type === "pm" && state.pm === to) {
        endPM(to + " is not in the chat any more");
      }
    });
    el.text.value = "";
    setEmotion("");
    el.text.focus();
  }

  // ---- wiring -------------------------------------------------------------

  function toggleStyle(k, button) {
    state.style[k] = !state.style[k];
    button.setAttribute("aria-pressed", state.style[k] ? "true" : "false");
    applyStyle(el.text, state.style);
    el.text.focus();
  }

  function setColor(c) {
    state.style.color = COLOR_RE.test(c) ? c : "";
    el.styleColorClear.hidden = !state.style.color;
    el.styleColor.parentNode.classList.toggle("tool-color-set", !!state.style.color);
    el.styleColor.parentNode.title = state.style.color ? "Text color " + state.style.color : "Text color (default)";
    applyStyle(el.text, state.style);
  }

  el.compose.addEventListener("submit", (e) => {
    e.preventDefault();
    sendText();
  });
  el.text.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.pm) {
      e.preventDefault();
      setPM("");
    }
  });
  el.styleB.addEventListener("click", () => { toggleStyle("b", el.styleB); });
  el.styleI.addEventListener("click", () => { toggleStyle("i", el.styleI); });
  el.styleU.addEventListener("click", () => { toggleStyle("u", el.styleU); });
  el.styleColor.addEventListener("input", () => { setColor(el.styleColor.value); });
  el.styleColor.addEventListener("change", () => { setColor(el.styleColor.value); });
  el.styleColorClear.addEventListener("click", () => {
    setColor("");
    el.text.focus();
  });
  el.pmClear.addEventListener("click", () => { setPM(""); });
  el.emotionButton.addEventListener("click", () => {
    if (el.emotionPicker.hidden) { openPicker(); } else { closePicker(); }
  });
  el.emotionPicker.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closePicker();
      el.emotionButton.focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!el.emotionPicker.hidden && !el.emotionPicker.contains(e.target) && !el.emotionButton.contains(e.target)) { closePicker(); }
  });
  proto.on("sanctioned", (ev) => {
    if (ev.kind !== "mute" || typeof ev.id !== "number") { return; }
    const until = ev.until ? new Date(ev.until) : null;
    state.mutes.set(ev.id, { room: typeof ev.room === "number" ? ev.room : 0, until: until && !isNaN(until.getTime()) ? until : null });
    scheduleUnmute();
    update();
  });
  proto.on("sanction_lifted", (ev) => {
    if (state.mutes.delete(ev.id)) {
      scheduleUnmute();
      update();
    }
  });

  buildPicker();
  setEmotion("");

  return { update: update, setPM: setPM, endPM: endPM };
}
