// The moderation module's web client extension (docs/moderation.md):
// for a room's moderators and administrators, a queue panel of the held
// messages (approve, edit then approve, decline with a reason), a
// "Moderate" action in the user list (kick, mute, ban with a duration and
// a reason), a badge with the queue length on the rooms they moderate and
// a "muted" badge in the user list.

const css = document.createElement("link");
css.rel = "stylesheet";
css.href = new URL("./style.css", import.meta.url).pathname;
document.head.appendChild(css);

// el makes an element with a class and a text.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

function button(label, cls, onClick) {
  const b = el("button", "btn btn-small " + (cls || ""), label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function sameName(a, b) { return String(a).toLowerCase() === String(b).toLowerCase(); }

export default function (api) {
  const counts = {};   // room id -> held messages, for the rooms the user moderates
  let queue = [];      // the held messages of the current room
  let muted = new Map(); // lower-case name -> the mute (current room)
  let panel = null;    // the queue panel, while the user moderates the room
  let action = null;   // remove() of the user action
  let badge = null;    // remove() of the room badge

  // moderates reports whether the user moderates the current room.
  function moderates() {
    const me = api.user();
    if (!me || !api.room()) { return false; }
    if (me.admin) { return true; }
    const m = api.members().find((x) => sameName(x.name, me.name));
    return !!m && (m.role === "moderator" || m.role === "admin");
  }

  // drawBadges redraws the room list's badges (re-adding the function
  // makes the client draw the list again).
  function drawBadges() {
    if (badge) { badge(); }
    badge = api.addRoomBadge((room) => (counts[room.id] ? counts[room.id] + " held" : null));
  }

  function status(text) {
    if (!panel) { return; }
    const s = panel.el.querySelector(".mod-status");
    if (s) { s.textContent = text; }
  }

  function fail(what) {
    return (e) => { status(what + ": " + e.message); api.showSystem(what + ": " + e.message); };
  }

  let moderated = false; // the current room is pre-moderated
  let total = 0;         // the current room's held messages, shown or not

  // drawQueue fills the panel with the held messages.
  function drawQueue() {
    if (!panel) { return; }
    const box = panel.el.querySelector(".mod-moderated");
    if (box && !box.disabled) { box.checked = moderated; }
    const list = panel.el.querySelector(".mod-queue");
    list.textContent = "";
    const empty = panel.el.querySelector(".mod-empty");
    empty.hidden = queue.length > 0;
    queue.forEach((h) => list.appendChild(heldItem(h)));
    const more = panel.el.querySelector(".mod-more");
    more.hidden = total <= queue.length;
    more.textContent = "and " + (total - queue.length) + " more, shown as these are handled";
  }

  // heldItem is one held message with its buttons.
  function heldItem(h) {
    const li = el("li", "mod-held");
    li.dataset.held = String(h.id);
    li.dataset.from = h.from;
    const head = el("div", "mod-held-head");
    head.appendChild(el("strong", "mod-held-from", h.from));
    head.appendChild(el("span", "mod-held-time", new Date(h.time).toLocaleTimeString()));
    li.appendChild(head);
    const text = el("div", "mod-held-text", h.text);
    li.appendChild(text);
    if (h.note) { li.appendChild(el("div", "mod-held-note", h.note)); }
    const bar = el("div", "mod-held-actions");
    const form = el("div", "mod-held-form");
    form.hidden = true;
    const approve = () => api.send("mod.approve", { held: h.id }).catch(fail("Not approved"));
    bar.appendChild(button("Approve", "btn-primary mod-approve", approve));
    bar.appendChild(button("Edit", "btn-ghost mod-edit", () => {
      form.textContent = "";
      const input = el("textarea", "mod-edit-text");
      input.value = h.text;
      input.rows = 2;
      form.appendChild(input);
      form.appendChild(button("Approve edited", "btn-primary mod-edit-approve", () => {
        api.send("mod.approve", { held: h.id, text: input.value }).catch(fail("Not approved"));
      }));
      form.appendChild(button("Cancel", "btn-ghost", () => { form.hidden = true; }));
      form.hidden = false;
      input.focus();
    }));
    bar.appendChild(button("Decline", "btn-ghost mod-decline", () => {
      form.textContent = "";
      const input = el("input", "mod-decline-reason");
      input.type = "text";
      input.placeholder = "Reason (the author sees it)";
      input.maxLength = 200;
      form.appendChild(input);
      form.appendChild(button("Decline", "btn-danger mod-decline-confirm", () => {
        api.send("mod.decline", { held: h.id, reason: input.value.trim() }).catch(fail("Not declined"));
      }));
      form.appendChild(button("Cancel", "btn-ghost", () => { form.hidden = true; }));
      form.hidden = false;
      input.focus();
    }));
    li.appendChild(bar);
    li.appendChild(form);
    return li;
  }

  // markMuted puts a "muted" badge on the muted members of the user list.
  function markMuted() {
    document.querySelectorAll("#users li[data-user]").forEach((li) => {
      const name = li.getAttribute("data-user");
      const s = muted.get(name.toLowerCase());
      let b = li.querySelector(".mod-muted");
      li.classList.toggle("mod-is-muted", !!s);
      if (!s) { if (b) { b.remove(); } return; }
      if (!b) {
        b = el("span", "badge mod-muted", "muted");
        const btn = li.querySelector(".user-button") || li;
        btn.appendChild(b);
      }
      b.title = "Muted" + (s.expires ? " until " + new Date(s.expires).toLocaleTimeString() : "") + (s.reason ? ": " + s.reason : "");
    });
  }

  // The user action's label is short, so that names keep their room in
  // the narrow list; its title and accessible name say what it does.
  const ACTION = "\u22ef"; // ⋯
  // The action is hidden on the entries of those the user may not
  // sanction: himself and anyone of his rank or above.
  const RANK = { admin: 5, moderator: 4, speaker: 3, user: 2, guest: 1 };
  function labelActions() {
    const me = api.user();
    const mine = me && me.admin ? "admin" : "moderator";
    document.querySelectorAll("#users li[data-user] .user-action").forEach((b) => {
      if (b.textContent !== ACTION) { return; }
      const li = b.closest("li");
      const name = li.getAttribute("data-user");
      const hide = (me && sameName(name, me.name)) || (RANK[li.getAttribute("data-role")] || 0) >= RANK[mine];
      if (b.hidden !== hide) { b.hidden = hide; }
      const t = "Moderate " + name + " (kick, mute, ban)";
      if (b.title !== t) { b.title = t; b.setAttribute("aria-label", t); b.classList.add("mod-action"); }
    });
  }

  const users = document.getElementById("users");
  if (users) {
    new MutationObserver(() => { markMuted(); labelActions(); }).observe(users, { childList: true, subtree: true });
  }

  function setSanctions(list) {
    muted = new Map();
    (list || []).forEach((s) => { if (s.kind === "mute" && s.user) { muted.set(s.user.toLowerCase(), s); } });
    markMuted();
  }

  // dialog is the form of the "Moderate" user action.
  const dialog = el("dialog", "mod-dialog");
  document.body.appendChild(dialog);

  function moderate(user) {
    dialog.textContent = "";
    const form = el("form", "mod-form");
    form.appendChild(el("h3", "", "Moderate " + user.name));
    const kind = el("select", "mod-kind");
    kind.setAttribute("aria-label", "Action");
    [["kick", "Kick"], ["mute", "Mute"], ["ban", "Ban from the room"]].forEach(([v, l]) => {
      const o = el("option", "", l);
      o.value = v;
      kind.appendChild(o);
    });
    const minutes = el("input", "mod-minutes");
    minutes.type = "number";
    minutes.min = "0";
    minutes.value = "10";
    const minutesLabel = el("label", "", "Minutes ");
    minutesLabel.appendChild(minutes);
    const hint = el("span", "mod-hint", "");
    const reason = el("input", "mod-reason");
    reason.type = "text";
    reason.placeholder = "Reason (the user sees it)";
    reason.setAttribute("aria-label", "Reason");
    reason.maxLength = 200;
    const error = el("p", "mod-error", "");
    const explain = () => {
      hint.textContent = kind.value === "kick" ? " before they may come back" : kind.value === "ban" ? " (0: until lifted)" : "";
    };
    kind.addEventListener("change", explain);
    explain();
    [kind, minutesLabel, hint, reason, error].forEach((x) => form.appendChild(x));
    const bar = el("div", "mod-form-actions");
    const submit = el("button", "btn btn-danger mod-submit", "Apply");
    submit.type = "submit";
    bar.appendChild(submit);
    bar.appendChild(button("Cancel", "btn-ghost mod-cancel", () => dialog.close()));
    form.appendChild(bar);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const n = parseInt(minutes.value, 10);
      const fields = { user: user.name, reason: reason.value.trim() };
      if (kind.value === "kick") { fields.cooldown = isNaN(n) ? undefined : n; } else { fields.minutes = isNaN(n) ? undefined : n; }
      api.send("mod." + kind.value, fields).then(() => {
        dialog.close();
        api.showSystem(user.name + ": " + kind.options[kind.selectedIndex].text.toLowerCase() + " applied.");
      }, (err) => { error.textContent = err.message; });
    });
    dialog.appendChild(form);
    dialog.showModal();
    reason.focus();
  }

  // refresh sets the extension up for the current room.
  function refresh() {
    queue = [];
    total = 0;
    setSanctions([]);
    if (!moderates()) {
      if (panel) { panel.remove(); panel = null; }
      if (action) { action(); action = null; }
      return;
    }
    if (!panel) {
      panel = api.addPanel({
        id: "queue", title: "Held messages", render(body) {
          const toggle = el("label", "mod-toggle");
          const box = el("input", "mod-moderated");
          box.type = "checkbox";
          box.addEventListener("change", () => {
            box.disabled = true;
            api.send("mod.moderate", { on: box.checked }).then(
              (r) => { box.checked = r.moderated; box.disabled = false; },
              (e) => { box.checked = !box.checked; box.disabled = false; fail("Not changed")(e); });
          });
          toggle.appendChild(box);
          toggle.appendChild(document.createTextNode(" Hold messages of users and guests"));
          body.appendChild(toggle);
          body.appendChild(el("p", "mod-status", ""));
          const empty = el("p", "mod-empty", "No message waits for approval.");
          body.appendChild(empty);
          body.appendChild(el("ul", "mod-queue"));
          const more = el("p", "mod-more", "");
          more.hidden = true;
          body.appendChild(more);
        }
      });
    }
    if (!action) { action = api.addUserAction({ label: ACTION, onClick: moderate }); }
    const room = api.room().id;
    api.send("mod.queue", { room }).then((q) => {
      if (api.room() && api.room().id === q.room) { queue = q.held || []; total = q.count || queue.length; moderated = !!q.moderated; counts[q.room] = total; drawQueue(); drawBadges(); }
    }, fail("No queue"));
    api.send("mod.sanctions", { room }).then((s) => {
      if (api.room() && api.room().id === s.room) { setSanctions(s.sanctions); }
    }, () => {});
    drawQueue();
  }

  // The queue lengths of the rooms the user moderates, once the room list
  // says there are any.
  let counted = false;
  api.on("rooms", (ev) => {
    const me = api.user();
    if (counted || !me) { return; }
    const owns = (r) => String(r.owner || "").split(",").some((n) => sameName(n.trim(), me.name));
    if (!me.admin && !(ev.rooms || []).some(owns)) { return; }
    counted = true;
    api.send("mod.counts", {}).then((r) => {
      Object.keys(r.counts || {}).forEach((k) => { counts[k] = r.counts[k]; });
      drawBadges();
    }, () => { counted = false; });
  });
  api.on("login_ok", () => { counted = false; });
  api.on("joined", refresh);
  api.on("users", () => { if (moderates() !== !!panel) { refresh(); } });
  api.on("left", () => { if (!api.room()) { refresh(); } });
  api.on("mod.queue", (ev) => {
    const q = ev.data || {};
    counts[q.room] = q.count || (q.held || []).length;
    drawBadges();
    if (panel && api.room() && api.room().id === q.room) { queue = q.held || []; total = counts[q.room]; moderated = !!q.moderated; drawQueue(); status(""); }
  });
  api.on("mod.sanctions", (ev) => {
    const s = ev.data || {};
    if (api.room() && api.room().id === s.room) { setSanctions(s.sanctions); }
  });
  api.on("mod.resolved", (ev) => {
    const r = ev.data || {};
    if (panel && api.room() && api.room().id === r.room) {
      status("Message " + r.id + " " + r.action + (r.by ? " by " + r.by : "") + ".");
    }
  });
  // What a sanctioned user sees (the sanctioned and sanction_lifted
  // events) the core web client shows itself.
  drawBadges();
}
