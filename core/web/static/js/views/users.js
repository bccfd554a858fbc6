// The people in the current room: names, avatars, role badges, the
// private message target, and the actions extensions add.

import { badge, httpURL, listItem, node, sameName, syncList } from "../dom.js";
import { emoticon, isEmoticon } from "../emoticons.js";

// Role badges: the roles worth a label (a plain user has none).
const ROLE_LABELS = {
  admin: ["admin", "Server administrator"],
  moderator: ["mod", "Room moderator"],
  speaker: ["speaker", "Speaker"],
  guest: ["guest", "Guest"]
};

/** createUsers wires the user list into app. */
export function createUsers(app) {
  const { el, state, proto } = app;
  state.members = []; // MemberView objects of the current room, sorted by name
  // Members' addresses by name key: only a room's moderators and the
  // administrators get them, and only when the server allows it
  // (chat.moderators_see_ip): in the joined event and member_ip events.
  state.ips = new Map();

  function key(name) { return String(name).toLowerCase(); }

  function find(name) {
    return state.members.find((m) => sameName(m.name, name)) || null;
  }

  function sort() {
    state.members.sort((a, b) => {
      const x = key(a.name), y = key(b.name);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }

  // member normalizes a MemberView from the server (which may send names
  // only, when it predates roles).
  function member(m) {
    if (typeof m === "string") { return { name: m, display: "", role: "", avatar: "" }; }
    if (typeof m.ip === "string" && m.ip && m.name) { state.ips.set(key(m.name), m.ip); }
    return {
      name: String(m.name || ""),
      display: typeof m.display === "string" ? m.display : "",
      role: typeof m.role === "string" ? m.role : "",
      avatar: typeof m.avatar === "string" ? m.avatar : ""
    };
  }

  // set replaces the members with those of a joined or users event:
  // members (with roles) where the server sends them, else the names.
  function set(ev) {
    const names = Array.isArray(ev.users) ? ev.users : [];
    const views = Array.isArray(ev.members) ? ev.members.filter((m) => m && typeof m.name === "string") : [];
    const byKey = new Map(views.map((m) => [key(m.name), m]));
    const list = names.length ? names.map((n) => byKey.get(key(n)) || n) : views;
    state.members = list.map(member).filter((m) => m.name);
    sort();
  }

  // avatar draws a member's picture: an http(s) image, a built-in
  // emoticon, or (fallback true) the first letter of the name.
  function avatar(m, size, fallback) {
    const initial = () => {
      const s = node("span", "avatar avatar-initial", (m.display || m.name || "?").charAt(0).toUpperCase());
      s.style.width = s.style.height = size + "px";
      s.setAttribute("aria-hidden", "true");
      return s;
    };
    const url = httpURL(m.avatar);
    if (url) {
      const img = document.createElement("img");
      img.className = "avatar avatar-img";
      img.alt = "";
      img.width = img.height = size;
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", () => {
        if (fallback && img.parentNode) { img.parentNode.replaceChild(initial(), img); } else { img.remove(); }
      });
      img.src = url;
      return img;
    }
    if (isEmoticon(m.avatar)) {
      const s = node("span", "avatar avatar-emoticon");
      s.setAttribute("aria-hidden", "true");
      s.appendChild(emoticon(m.avatar, size));
      return s;
    }
    return fallback ? initial() : null;
  }

  function render() {
    const myName = state.me ? state.me.name : "";
    const actions = app.ext ? app.ext.userActions : [];
    syncList(el.users, state.members, "data-user", (m) => m.name, (name) => {
      return listItem("user-button", () => { app.compose.setPM(state.pm === name ? "" : name); });
    }, (li, m) => {
      const u = m.name;
      const btn = li.firstChild;
      // The same picture stays (an image is not loaded again).
      const keep = btn.getAttribute("data-avatar") === m.avatar ? btn.querySelector(".avatar") : null;
      btn.textContent = "";
      btn.appendChild(keep || avatar(m, 22, true));
      btn.setAttribute("data-avatar", m.avatar);
      const label = node("span", "user-name", m.display && m.display !== u ? m.display + " (" + u + ")" : u);
      btn.appendChild(label);
      // The address goes under the name, so the name keeps its width.
      const ip = state.ips.get(key(u));
      if (ip) {
        const addr = node("span", "user-ip", ip);
        addr.title = "IP address (shown to moderators only)";
        label.appendChild(addr);
      }
      li.className = "user";
      li.setAttribute("data-role", m.role || "");
      const role = ROLE_LABELS[m.role];
      if (role) {
        const b = badge(role[0], "badge-role badge-role-" + m.role);
        b.title = role[1];
        btn.appendChild(b);
      }
      for (const eb of app.ext ? app.ext.userBadges : []) {
        const text = app.ext.userBadgeText(eb, m);
        if (text) {
          const b = badge(text, "badge-ext");
          b.setAttribute("data-module", eb.module);
          btn.appendChild(b);
        }
      }

      // Extension actions, rebuilt with the item (the user button stays).
      let bar = li.querySelector(".user-actions");
      if (bar) { bar.remove(); }
      if (actions.length) {
        bar = node("span", "user-actions");
        actions.forEach((a) => {
          const b = node("button", "btn btn-ghost btn-small user-action", a.label);
          b.type = "button";
          b.title = a.label + ": " + u;
          b.addEventListener("click", () => { app.ext.runUserAction(a, m); });
          bar.appendChild(b);
        });
        li.appendChild(bar);
      }
      if (u === myName) {
        li.classList.add("self");
        btn.disabled = true;
        btn.removeAttribute("title");
        btn.removeAttribute("aria-pressed");
        btn.appendChild(badge("you", "badge-self"));
        return;
      }
      btn.disabled = false;
      btn.title = "Send a private message to " + u;
      if (state.pm === u) { li.classList.add("pm-target"); }
      btn.setAttribute("aria-pressed", state.pm === u ? "true" : "false");
    });
    el.usersCount.textContent = state.room ? "(" + state.members.length + ")" : "";
  }

  // applyPresence applies one join or leave in room (ev as a presence
  // event or an entry of a presence_batch); the caller renders.
  function applyPresence(room, ev) {
    if (!state.room || room !== state.room.id) { return; }
    const m = find(ev.user);
    if (ev.event === "join") {
      const view = member({ name: ev.user, display: ev.display, role: ev.role, avatar: ev.avatar });
      if (m) { Object.assign(m, view); } else { state.members.push(view); }
    } else if (ev.event === "leave" && m) {
      state.members.splice(state.members.indexOf(m), 1);
    }
    const gone = ev.event === "leave" && ev.offline === true;
    if (gone && state.pm && sameName(ev.user, state.pm)) {
      // The private message partner left the chat, not just the room.
      app.compose.endPM(ev.user + " left the chat");
    } else if (!state.me || ev.user !== state.me.name) {
      app.messages.addLine("presence", ev.user + (ev.event === "join" ? " joined." : gone ? " left the chat." : " left."));
    }
  }

  // presence and presence_batch (several of a busy room's events in one
  // frame, docs/protocol.md): apply each, set the count, render once.
  function onPresence(room, count, events) {
    if (typeof count === "number") {
      const r = app.rooms.find(room);
      if (r) { r.count = count; }
    }
    if (state.room && room === state.room.id) {
      if (typeof count === "number") { state.room.count = count; }
      events.forEach((ev) => { applyPresence(room, ev); });
      sort();
      app.rooms.renderHead();
      render();
    }
    app.rooms.render();
  }

  proto.on("presence", (ev) => { onPresence(ev.room, ev.count, [ev]); });
  proto.on("presence_batch", (ev) => {
    onPresence(ev.room, ev.count, Array.isArray(ev.events) ? ev.events : []);
  });

  proto.on("member_ip", (ev) => {
    if (typeof ev.user !== "string" || typeof ev.ip !== "string" || !ev.ip) { return; }
    state.ips.set(key(ev.user), ev.ip);
    if (state.room && ev.room === state.room.id) { render(); }
  });

  proto.on("users", (ev) => {
    if (!state.room || ev.room !== state.room.id) { return; }
    set(ev);
    render();
  });

  return {
    set: set,
    render: render,
    find: find,
    clear() { state.members = []; },
    /** avatar draws a member's picture; with fallback, the initial when it has none. */
    avatar: avatar,
    /** avatarOf draws the avatar of a member of the room, or null when it has none. */
    avatarOf(name, size) {
      const m = name ? find(name) : null;
      return m ? avatar(m, size, false) : null;
    }
  };
}
