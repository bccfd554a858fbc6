// The chat log: room messages, private messages, notices and the
// client's own lines (presence, errors, extension output).

import { applyStyle, node } from "../dom.js";
import { emoticon, emoticonName } from "../emoticons.js";

const MAX_LINES = 1000;

/** createMessages wires the chat log into app. */
export function createMessages(app) {
  const { el, state, proto } = app;

  function formatTime(ts) {
    let d = ts ? new Date(ts) : new Date();
    if (isNaN(d.getTime())) { d = new Date(); }
    return d;
  }

  function messageLine(kind, m) {
    const li = node("li", "msg msg-" + kind);
    li.setAttribute("data-kind", kind);
    li.setAttribute("data-from", m.from || "");
    if (m.id !== undefined && kind === "message") { li.setAttribute("data-id", String(m.id)); }

    const d = formatTime(m.ts);
    const time = node("time", "msg-time", d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = d.toISOString();
    time.title = d.toLocaleString();
    li.appendChild(time);

    const avatar = app.users.avatarOf(m.from, 18);
    if (avatar) {
      avatar.classList.add("msg-avatar");
      li.appendChild(avatar);
    }
    li.appendChild(node("span", "msg-from", m.from || ""));

    // The seed's emotion: a face the sender chose for this message.
    const face = emoticon(m.emotion, 20);
    if (face) {
      const wrap = node("span", "msg-emotion");
      wrap.setAttribute("data-emotion", m.emotion);
      wrap.title = emoticonName(m.emotion);
      wrap.appendChild(face);
      li.appendChild(wrap);
    }

    const text = node("span", "msg-text", m.text || "");
    applyStyle(text, m.style);
    li.appendChild(text);
    return li;
  }

  function addMessage(m, fromHistory) {
    const li = messageLine("message", m);
    if (fromHistory) { li.classList.add("msg-history"); }
    if (state.me && m.from === state.me.name) { li.classList.add("msg-own"); }
    appendLine(li);
  }

  function addPrivate(ev) {
    const mine = state.me && ev.from === state.me.name;
    const li = messageLine("private", ev);
    li.classList.add(mine ? "msg-pm-out" : "msg-pm-in");
    li.setAttribute("data-to", ev.to || "");
    const who = li.querySelector(".msg-from");
    who.textContent = mine ? "to " + ev.to : ev.from;
    const tag = node("span", "msg-tag", mine ? "private, sent" : "private");
    who.parentNode.insertBefore(tag, who);
    // Selecting the other party's name answers privately.
    const other = mine ? ev.to : ev.from;
    who.setAttribute("role", "button");
    who.setAttribute("tabindex", "0");
    who.setAttribute("title", "Reply privately to " + other);
    who.addEventListener("click", () => { app.compose.setPM(other); });
    who.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); app.compose.setPM(other); }
    });
    appendLine(li);
  }

  function addLine(kind, text) {
    const li = node("li", "msg msg-" + kind);
    li.setAttribute("data-kind", kind);
    const tags = { notice: "Notice", error: "Error", sanction: "Moderation" };
    if (tags[kind]) {
      li.appendChild(node("span", "msg-tag", tags[kind]));
    }
    li.appendChild(node("span", "msg-text", text));
    appendLine(li);
    return li;
  }

  function appendLine(li) {
    const box = el.messages;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.appendChild(li);
    while (box.childNodes.length > MAX_LINES) { box.removeChild(box.firstChild); }
    if (atBottom || li.classList.contains("msg-own") || li.classList.contains("msg-pm-out")) {
      box.scrollTop = box.scrollHeight;
    }
  }

  proto.on("message", (ev) => {
    if (state.room && ev.room === state.room.id) { addMessage(ev, false); }
  });
  proto.on("private", addPrivate);
  proto.on("notice", (ev) => {
    addLine("notice", ev.from ? ev.from + ": " + (ev.text || "") : ev.text || "");
  });
  // What a moderator (or the operator) did to this user: the server's
  // sentence says what, where, why and until when.
  proto.on("sanctioned", (ev) => {
    const li = addLine("sanction", ev.text || "A moderator sanctioned you.");
    li.setAttribute("data-sanction", String(ev.kind || ""));
  });
  proto.on("sanction_lifted", (ev) => {
    const li = addLine("sanction", ev.text || "A sanction was lifted.");
    li.classList.add("msg-sanction-lifted");
  });
  proto.on("held", (ev) => {
    addLine("info", "Your message is waiting for a moderator" + (ev.note ? ": " + ev.note : "."));
  });

  return {
    addLine: addLine,
    addMessage: addMessage,
    clear() { el.messages.textContent = ""; }
  };
}
