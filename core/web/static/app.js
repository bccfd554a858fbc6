// Parlor web client. Speaks the JSON-over-WebSocket protocol of
// docs/protocol.md at /ws. Plain script, no dependencies, no build step.
// User-supplied text is only ever placed with textContent.
(function () {
  "use strict";

  var COLOR_RE = /^#[0-9a-fA-F]{6}$/;
  var PING_EVERY_MS = 30000;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var MAX_LINES = 1000;

  function $(id) { return document.getElementById(id); }

  var el = {
    status: $("status"),
    me: $("me"),
    meName: $("me-name"),
    meGuest: $("me-guest"),
    meAdmin: $("me-admin"),
    toggles: $("panel-toggles"),
    toggleRooms: $("toggle-rooms"),
    toggleUsers: $("toggle-users"),
    connLost: $("conn-lost"),
    connLostText: $("conn-lost-text"),
    reconnect: $("reconnect"),
    loginView: $("login-view"),
    loginForm: $("login-form"),
    loginHint: $("login-hint"),
    loginUser: $("login-user"),
    loginPassword: $("login-password"),
    loginPasswordOptional: $("login-password-optional"),
    loginError: $("login-error"),
    loginSubmit: $("login-submit"),
    chatView: $("chat-view"),
    roomsPanel: $("rooms-panel"),
    rooms: $("rooms"),
    roomsEmpty: $("rooms-empty"),
    roomTitle: $("room-title"),
    roomDesc: $("room-desc"),
    roomCount: $("room-count"),
    leave: $("leave-room"),
    roomError: $("room-error"),
    messages: $("messages"),
    compose: $("compose"),
    pmBar: $("pm-bar"),
    pmTo: $("pm-to"),
    pmClear: $("pm-clear"),
    styleB: $("style-b"),
    styleI: $("style-i"),
    styleU: $("style-u"),
    styleColor: $("style-color"),
    styleColorClear: $("style-color-clear"),
    text: $("compose-text"),
    send: $("compose-send"),
    usersPanel: $("users-panel"),
    backdrop: $("panel-backdrop"),
    users: $("users"),
    usersCount: $("users-count"),
    pwDialog: $("room-password-dialog"),
    pwForm: $("room-password-form"),
    pwText: $("room-password-text"),
    pwInput: $("room-password"),
    pwError: $("room-password-error"),
    pwCancel: $("room-password-cancel"),
    logout: $("logout"),
    ssoLinks: $("sso-links"),
    ssoLogin: $("sso-login"),
    ssoRegister: $("sso-register")
  };

  var state = {
    ws: null,
    connected: false,     // socket open
    hello: null,          // the server's hello
    me: null,             // login_ok.user
    // How to sign in again after a dropped connection, without a password:
    // {user, token} (the reconnect token of a password login), {session: true}
    // (the login cookie), {user, guest: true} (a guest, by name) or {user}
    // (nothing: the user signs in again).
    login: null,
    wantOnline: false,    // the user is signed in and expects to stay connected
    onOpen: [],           // callbacks run once the socket opens
    nextId: 1,
    pending: {},          // request id -> {type, ...context}
    rooms: [],            // ROOM objects from the last rooms event
    room: null,           // the ROOM the user is in
    roomPassword: "",     // password used for the current room (for rejoins)
    rejoin: null,         // {id, password} to join again after a reconnect
    users: [],            // names in the current room
    pm: "",               // private message target
    style: { b: false, i: false, u: false, color: "" },
    pingTimer: 0,
    retryTimer: 0,
    retryTick: 0,
    retryDelay: RETRY_MIN_MS,
    retryAt: 0,
    pwRoom: null,         // room awaiting a password in the dialog
    sso: null,            // the SSO plugin's settings (login, logout, register URLs)
    ssoAsked: false,      // /sso/settings was requested
    sessionTried: false,  // a login with the session cookie was tried
    loggingOut: false,    // the user asked to log out
    linkError: ""         // why a login link (?access_token=...) failed
  };

  // ---- connection -------------------------------------------------------

  function wsURL() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/ws";
  }

  function setStatus(text, st) {
    el.status.textContent = text;
    el.status.title = text; // narrow screens show only the dot
    el.status.setAttribute("data-state", st);
  }

  function connect() {
    if (state.ws && (state.ws.readyState === WebSocket.OPEN || state.ws.readyState === WebSocket.CONNECTING)) {
      return;
    }
    stopRetry();
    setStatus("Connecting\u2026", "connecting");
    var ws;
    try {
      ws = new WebSocket(wsURL());
    } catch (e) {
      connectionLost("Could not connect: " + e.message);
      return;
    }
    state.ws = ws;
    ws.onopen = function () {
      if (state.ws !== ws) { return; }
      state.connected = true;
      state.retryDelay = RETRY_MIN_MS;
      el.connLost.hidden = true;
      setStatus("Connected", "open");
      state.pingTimer = setInterval(function () { send({ type: "ping" }); }, PING_EVERY_MS);
      var cbs = state.onOpen;
      state.onOpen = [];
      cbs.forEach(function (f) { f(); });
    };
    ws.onmessage = function (ev) {
      if (state.ws !== ws) { return; }
      receive(ev.data);
    };
    ws.onclose = function (ev) {
      if (state.ws !== ws) { return; }
      closed(ev);
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = function () {};
  }

  function closed(ev) {
    if (ev && ev.reason === "logged out" && state.me) {
      state.ws = null;
      state.connected = false;
      clearInterval(state.pingTimer);
      state.pending = {};
      onLoggedOut(ev);
      setStatus("Not connected", "closed");
      return;
    }
    var wasConnected = state.connected;
    state.ws = null;
    state.connected = false;
    clearInterval(state.pingTimer);
    state.pending = {};
    var online = state.wantOnline;
    state.me = null;
    if (online) {
      // reconnect() queues a fresh login for the next socket.
      state.onOpen = [];
    }
    if (state.room) {
      state.rejoin = { id: state.room.id, password: state.roomPassword };
    }
    var why = ev && ev.reason ? " (" + ev.reason + ")" : "";
    if (online) {
      connectionLost((wasConnected ? "Connection lost" : "Could not reach the server") + why + ".");
    } else {
      setStatus("Not connected", "closed");
      el.loginSubmit.disabled = false;
      if (state.onOpen.length) {
        // A login was waiting for the socket that never opened.
        state.onOpen = [];
        showLoginError("Could not reach the server" + why + ". Please try again.");
      }
    }
  }

  function connectionLost(text) {
    el.connLostText.textContent = text;
    el.reconnect.hidden = false;
    el.connLost.hidden = false;
    el.chatView.classList.add("offline");
    updateCompose();
    scheduleRetry();
  }

  function scheduleRetry() {
    stopRetry();
    var delay = state.retryDelay;
    state.retryDelay = Math.min(state.retryDelay * 2, RETRY_MAX_MS);
    state.retryAt = Date.now() + delay;
    state.retryTimer = setTimeout(reconnect, delay);
    var tick = function () {
      var s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      setStatus("Disconnected \u2014 retrying in " + s + " s", "closed");
    };
    tick();
    state.retryTick = setInterval(tick, 1000);
  }

  function stopRetry() {
    clearTimeout(state.retryTimer);
    clearInterval(state.retryTick);
    state.retryTimer = 0;
    state.retryTick = 0;
  }

  // reconnect opens a new socket and signs in again the way state.login
  // says (never with a password), then returns to the room the user was in.
  function reconnect() {
    stopRetry();
    if (state.ws) {
      // A socket is open or opening already; its login is queued.
      return;
    }
    var l = state.login;
    if (!l) {
      connect();
      return;
    }
    if (l.session) {
      whenOpen(function () { sendSessionLogin(true); });
    } else if (l.token) {
      whenOpen(function () { sendTokenLogin(l.token); });
    } else if (l.guest) {
      whenOpen(function () { sendLogin(l.user, "", true); });
    } else {
      signInAgain(l.user, "The connection was lost. Please sign in again.");
      connect();
    }
  }

  // signInAgain ends the login on this page and shows the login form with
  // the name filled in and why.
  function signInAgain(user, why) {
    endLogin();
    el.loginSubmit.disabled = false;
    showLogin();
    el.loginUser.value = user || "";
    if (user) { el.loginPassword.focus(); }
    showLoginError(why);
  }

  function whenOpen(f) {
    if (state.connected) {
      f();
      return;
    }
    state.onOpen.push(f);
    connect();
  }

  function send(obj) {
    if (!state.connected) { return false; }
    state.ws.send(JSON.stringify(obj));
    return true;
  }

  // request sends obj with a fresh id and remembers ctx for its answer.
  function request(obj, ctx) {
    var id = String(state.nextId++);
    obj.id = id;
    ctx = ctx || {};
    ctx.type = obj.type;
    state.pending[id] = ctx;
    if (!send(obj)) {
      delete state.pending[id];
      return null;
    }
    return id;
  }

  function takePending(ev) {
    if (ev.id === undefined || ev.id === null) { return null; }
    var key = String(ev.id);
    var ctx = state.pending[key];
    if (ctx) { delete state.pending[key]; }
    return ctx || null;
  }

  function receive(data) {
    var parsed;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      return;
    }
    var list = Array.isArray(parsed) ? parsed : [parsed];
    for (var i = 0; i < list.length; i++) {
      var ev = list[i];
      if (!ev || typeof ev !== "object") { continue; }
      try {
        handle(ev);
      } catch (e) {
        if (window.console) { console.error("parlor: handling " + ev.type + ":", e); }
      }
    }
  }

  var handlers = {
    hello: onHello,
    login_ok: onLoginOK,
    rooms: onRooms,
    joined: onJoined,
    left: onLeft,
    message: onMessage,
    "private": onPrivate,
    presence: onPresence,
    users: onUsers,
    notice: onNotice,
    error: onError,
    logged_out: onLoggedOut,
    pong: function () {}
  };

  function handle(ev) {
    var h = handlers[ev.type];
    var ctx = ev.type === "error" ? null : takePending(ev);
    if (h) { h(ev, ctx); }
  }

  // ---- server events ----------------------------------------------------

  function onHello(ev) {
    state.hello = ev;
    if (ev.guests === false) {
      el.loginHint.textContent = "This server does not admit guests: sign in with your name and password.";
      el.loginPasswordOptional.hidden = true;
      el.loginPassword.required = true;
    } else {
      el.loginHint.textContent = "Choose a name. Leave the password empty to enter as a guest.";
      el.loginPasswordOptional.hidden = false;
      el.loginPassword.required = false;
    }
    // The SSO plugin serves /sso/ only where the server lists it.
    var modules = Array.isArray(ev.modules) ? ev.modules : [];
    if (modules.indexOf("sso") >= 0 && !state.ssoAsked) {
      state.ssoAsked = true;
      loadSSO();
    }
    // A browser the website logged in (SSO) carries the login cookie:
    // try it once before asking for a name.
    if (!state.me && !state.login && !state.sessionTried) {
      state.sessionTried = true;
      sendSessionLogin(false);
    }
  }

  function onLoginOK(ev, ctx) {
    state.linkError = "";
    state.me = ev.user || {};
    if (typeof ev.token === "string" && ev.token) {
      state.login = { user: state.me.name, token: ev.token };
    } else if (ctx && ctx.session) {
      state.login = { session: true };
    } else if (ctx && ctx.token) {
      // Logged in again with the reconnect token: it stays the same.
    } else if (state.me.guest) {
      state.login = { user: state.me.name, guest: true };
    } else {
      state.login = { user: state.me.name };
    }
    state.wantOnline = true;
    el.loginSubmit.disabled = false;
    el.loginError.hidden = true;
    el.loginPassword.value = "";
    el.connLost.hidden = true;
    el.chatView.classList.remove("offline");
    var name = state.me.name || "";
    el.meName.textContent = state.me.display && state.me.display !== name ? state.me.display + " (" + name + ")" : name;
    el.meGuest.hidden = !state.me.guest;
    el.meAdmin.hidden = !state.me.admin;
    el.me.hidden = false;
    el.toggles.hidden = false;
    el.loginView.hidden = true;
    el.chatView.hidden = false;
    setStatus("Signed in as " + name, "online");
    var again = state.rejoin;
    state.rejoin = null;
    if (again) {
      addLine("info", "Reconnected.");
      joinRoom(again.id, again.password, true);
    } else {
      el.text.focus();
    }
    renderUsers();
    updateCompose();
  }

  function onRooms(ev) {
    state.rooms = Array.isArray(ev.rooms) ? ev.rooms : [];
    if (state.room) {
      var r = findRoom(state.room.id);
      if (r) {
        state.room = r;
        renderRoomHead();
      }
    }
    renderRooms();
  }

  function onJoined(ev, ctx) {
    var r = ev.room || {};
    state.room = r;
    state.roomPassword = ctx && ctx.password ? ctx.password : "";
    state.users = Array.isArray(ev.users) ? ev.users.slice() : [];
    sortUsers();
    upsertRoom(r);
    hideRoomError();
    closePasswordDialog();
    clearMessages();
    var history = Array.isArray(ev.history) ? ev.history : [];
    if (history.length) {
      addLine("divider", "Earlier messages");
      history.forEach(function (m) { addMessage(m, true); });
    }
    addLine("info", "You are in " + (r.name || "room " + r.id) + ".");
    if (ev.welcome) { addLine("welcome", ev.welcome); }
    renderRoomHead();
    renderRooms();
    renderUsers();
    updateCompose();
    closePanels();
    if (!ctx || !ctx.silent) { el.text.focus(); }
  }

  function onLeft(ev) {
    if (!state.room || ev.room !== state.room.id) { return; }
    var name = state.room.name;
    state.room = null;
    state.roomPassword = "";
    state.users = [];
    addLine("info", "You left " + name + ".");
    renderRoomHead();
    renderRooms();
    renderUsers();
    updateCompose();
  }

  function onMessage(ev) {
    if (!state.room || ev.room !== state.room.id) { return; }
    addMessage(ev, false);
  }

  function onPrivate(ev) {
    var mine = state.me && ev.from === state.me.name;
    var li = messageLine("private", ev);
    li.classList.add(mine ? "msg-pm-out" : "msg-pm-in");
    li.setAttribute("data-to", ev.to || "");
    var who = li.querySelector(".msg-from");
    who.textContent = mine ? "to " + ev.to : ev.from;
    var tag = document.createElement("span");
    tag.className = "msg-tag";
    tag.textContent = mine ? "private, sent" : "private";
    who.parentNode.insertBefore(tag, who);
    // Selecting the other party's name answers privately.
    var other = mine ? ev.to : ev.from;
    who.setAttribute("role", "button");
    who.setAttribute("tabindex", "0");
    who.setAttribute("title", "Reply privately to " + other);
    who.addEventListener("click", function () { setPM(other); });
    who.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); setPM(other); }
    });
    appendLine(li);
  }

  function onPresence(ev) {
    if (typeof ev.count === "number") {
      var r = findRoom(ev.room);
      if (r) { r.count = ev.count; }
    }
    if (state.room && ev.room === state.room.id) {
      if (typeof ev.count === "number") { state.room.count = ev.count; }
      var i = state.users.indexOf(ev.user);
      if (ev.event === "join" && i < 0) {
        state.users.push(ev.user);
        sortUsers();
      } else if (ev.event === "leave" && i >= 0) {
        state.users.splice(i, 1);
      }
      var gone = ev.event === "leave" && ev.offline === true;
      if (gone && state.pm && sameName(ev.user, state.pm)) {
        // The private message partner left the chat, not just the room.
        endPM(ev.user + " left the chat");
      } else if (!state.me || ev.user !== state.me.name) {
        addLine("presence", ev.user + (ev.event === "join" ? " joined." : gone ? " left the chat." : " left."));
      }
      renderRoomHead();
      renderUsers();
    }
    renderRooms();
  }

  function onUsers(ev) {
    if (!state.room || ev.room !== state.room.id) { return; }
    state.users = Array.isArray(ev.users) ? ev.users.slice() : [];
    sortUsers();
    renderUsers();
  }

  function onNotice(ev) {
    addLine("notice", ev.from ? ev.from + ": " + (ev.text || "") : ev.text || "");
  }

  function onError(ev) {
    var ctx = takePending(ev);
    var text = ev.message || ev.code || "Something went wrong.";
    if (ctx && ctx.type === "login" && ctx.session && !ctx.reconnect) {
      // No (valid) login session: the visitor signs in with the form.
      if (state.linkError) {
        showLoginError(state.linkError);
      } else if (ev.code !== "no_session") {
        showLoginError(text);
      }
      return;
    }
    if (ctx && ctx.type === "login") {
      el.loginSubmit.disabled = false;
      if (ctx.reconnect) {
        var user = ctx.user || (state.login && state.login.user) || "";
        if (ctx.token && ev.code === "name_taken" && state.login && state.login.token) {
          // The server has not seen the old connection go yet (it notices
          // within its ping interval): the token stays good, try again.
          retryTokenLogin();
          return;
        }
        if (ctx.token && ev.code === "no_session") {
          // The server no longer knows the reconnect token: it restarted,
          // or the token expired while the connection was down.
          text = "You were signed out while the connection was down (the server restarted or your login expired). Please sign in again.";
        }
        // Otherwise the old session may not be gone yet; let the user decide.
        signInAgain(user, text);
        return;
      }
      showLoginError(text);
      return;
    }
    if (ctx && ctx.type === "join") {
      if (ev.code === "room_password") {
        var r = findRoom(ctx.room) || { id: ctx.room, name: "room " + ctx.room };
        openPasswordDialog(r, text);
        return;
      }
      showRoomError(text);
      return;
    }
    if (ctx && (ctx.type === "say" || ctx.type === "pm")) {
      addLine("error", text);
      if (ctx.text && !el.text.value) { el.text.value = ctx.text; }
      if (ev.code === "no_such_user_online" && ctx.type === "pm" && state.pm === ctx.to) {
        endPM(ctx.to + " is not in the chat any more");
      }
      return;
    }
    if (ev.code === "not_logged_in" && !state.me) {
      showLogin();
      showLoginError(text);
      return;
    }
    addLine("error", text);
  }

  // ---- requests ---------------------------------------------------------

  // sendLogin logs in with a name and password (none: a guest). The
  // password is sent once and not kept: a reconnect uses the token that
  // login_ok brings.
  function sendLogin(user, password, isReconnect) {
    var msg = { type: "login", user: user };
    if (password) { msg.password = password; }
    if (!request(msg, { reconnect: !!isReconnect, user: user })) {
      el.loginSubmit.disabled = false;
      showLoginError("Not connected to the server. Please try again.");
    }
  }

  // sendTokenLogin logs in again with the reconnect token of a password
  // login.
  function sendTokenLogin(token) {
    var user = state.login ? state.login.user : "";
    request({ type: "login", token: token }, { token: true, reconnect: true, user: user });
  }

  // retryTokenLogin sends the token login again later, on the same socket,
  // with the reconnect backoff.
  function retryTokenLogin() {
    stopRetry();
    var delay = state.retryDelay;
    state.retryDelay = Math.min(state.retryDelay * 2, RETRY_MAX_MS);
    setStatus("Waiting for the old connection to end\u2026", "connecting");
    el.connLostText.textContent = "Signing in again as soon as the server has closed the old connection\u2026";
    el.reconnect.hidden = true;
    el.connLost.hidden = false;
    state.retryTimer = setTimeout(function () {
      state.retryTimer = 0;
      if (state.connected && !state.me && state.login && state.login.token) { sendTokenLogin(state.login.token); }
    }, delay);
  }

  // sendSessionLogin logs in with the chat's login cookie (set by the
  // website's SSO login), if the browser has one.
  function sendSessionLogin(isReconnect) {
    request({ type: "login", session: true }, { session: true, reconnect: !!isReconnect });
  }

  // ---- SSO and logout -----------------------------------------------------

  function safeURL(u) {
    return typeof u === "string" && /^https?:\/\//i.test(u) ? u : "";
  }

  // loadSSO reads the SSO plugin's settings and shows the website's login
  // and registration links. Without the plugin the request fails quietly.
  function loadSSO() {
    if (!window.fetch) { return; }
    fetch("/sso/settings", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { return null; }
      return r.json();
    }).then(function (j) {
      if (!j || typeof j !== "object") { return; }
      state.sso = { login: safeURL(j.login_url), logout: safeURL(j.logout_url), register: safeURL(j.register_url) };
      if (state.sso.login) {
        el.ssoLogin.href = state.sso.login;
        el.ssoLogin.hidden = false;
      }
      if (state.sso.register) {
        el.ssoRegister.href = state.sso.register;
        el.ssoRegister.hidden = false;
      }
      el.ssoLinks.hidden = !(state.sso.login || state.sso.register);
    }).catch(function () {});
  }

  // useLoginLink exchanges the access token of a login link
  // (CHAT/?access_token=...&rememberMe=...) for the login cookie, removes
  // it from the address bar, then calls done.
  function useLoginLink(done) {
    var q;
    try { q = new URLSearchParams(location.search); } catch (e) { done(); return; }
    var token = q.get("access_token");
    if (!token || !window.fetch) { done(); return; }
    var remember = q.get("rememberMe") === "1" ? "1" : "0";
    q.delete("access_token");
    q.delete("rememberMe");
    var rest = q.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    fetch("/sso/token/login?access_token=" + encodeURIComponent(token) + "&rememberMe=" + remember,
      { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if ((r.headers.get("Content-Type") || "").indexOf("image/gif") === 0) { return ""; }
      return r.json().then(function (j) {
        return (j && j.message) || "The login link did not work.";
      });
    }).catch(function () {
      return "The login link did not work.";
    }).then(function (err) {
      state.linkError = err || "";
      done();
    });
  }

  function logout() {
    if (!state.me) { return; }
    state.loggingOut = true;
    if (!request({ type: "logout" })) { onLoggedOut({}); }
  }

  // onLoggedOut ends the login: after the user's own logout the browser
  // goes to the website's logout page when one is configured.
  function onLoggedOut(ev) {
    var own = state.loggingOut;
    state.loggingOut = false;
    endLogin();
    if (own && state.sso && state.sso.logout) {
      location.href = state.sso.logout;
      return;
    }
    showLogin();
    showLoginError(own ? "You have logged out." : "Your login session has ended; please log in again.");
  }

  // endLogin forgets the login, its room and its messages.
  function endLogin() {
    stopRetry();
    state.wantOnline = false;
    state.login = null;
    state.rejoin = null;
    state.me = null;
    state.room = null;
    state.roomPassword = "";
    state.users = [];
    state.pm = "";
    clearMessages();
    renderRoomHead();
    renderUsers();
  }

  function joinRoom(id, password, silent) {
    hideRoomError();
    var msg = { type: "join", room: id };
    if (password) { msg.password = password; }
    if (!request(msg, { room: id, password: password || "", silent: !!silent })) {
      showRoomError("Not connected to the server.");
    }
  }

  function chooseRoom(r) {
    if (state.room && state.room.id === r.id) {
      closePanels();
      return;
    }
    if (r.locked) {
      openPasswordDialog(r, "");
      return;
    }
    joinRoom(r.id, "");
  }

  function sendText() {
    var text = el.text.value;
    if (!text.trim()) { return; }
    var style = {};
    if (state.style.b) { style.b = true; }
    if (state.style.i) { style.i = true; }
    if (state.style.u) { style.u = true; }
    if (COLOR_RE.test(state.style.color)) { style.color = state.style.color; }
    var id;
    if (state.pm) {
      id = request({ type: "pm", to: state.pm, text: text, style: style }, { to: state.pm, text: text });
    } else if (state.room) {
      id = request({ type: "say", text: text, style: style }, { text: text });
    } else {
      return;
    }
    if (id) {
      el.text.value = "";
    }
    el.text.focus();
  }

  // ---- rendering --------------------------------------------------------

  function findRoom(id) {
    for (var i = 0; i < state.rooms.length; i++) {
      if (state.rooms[i].id === id) { return state.rooms[i]; }
    }
    return null;
  }

  function upsertRoom(r) {
    for (var i = 0; i < state.rooms.length; i++) {
      if (state.rooms[i].id === r.id) {
        state.rooms[i] = r;
        return;
      }
    }
    state.rooms.push(r);
  }

  function svgIcon(kind) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "14");
    svg.setAttribute("height", "14");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon icon-" + kind);
    var p = document.createElementNS(ns, "path");
    if (kind === "lock") {
      p.setAttribute("d", "M4 7V5a4 4 0 1 1 8 0v2h.5A1.5 1.5 0 0 1 14 8.5v5a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 13.5v-5A1.5 1.5 0 0 1 3.5 7H4zm2 0h4V5a2 2 0 1 0-4 0v2z");
    } else {
      p.setAttribute("d", "M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM3.8 4.9l7.3 7.3A5 5 0 0 1 3.8 4.9zm8.4 6.2L4.9 3.8a5 5 0 0 1 7.3 7.3z");
    }
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }

  function badge(text, cls) {
    var b = document.createElement("span");
    b.className = "badge " + (cls || "");
    b.textContent = text;
    return b;
  }

  // syncList makes the <li> children of list show items in order, one per
  // key (held in the attribute keyAttr). An item already shown keeps its
  // element and button, so updates (counts change all the time in a busy
  // chat) never swap a button out from under a click. create makes the
  // <li> of a new key; fill brings an <li> up to date with its item.
  function syncList(list, items, keyAttr, keyOf, create, fill) {
    var old = new Map();
    Array.prototype.forEach.call(list.children, function (li) { old.set(li.getAttribute(keyAttr), li); });
    items.forEach(function (item, i) {
      var key = keyOf(item);
      var li = old.get(key);
      if (li) {
        old.delete(key);
      } else {
        li = create(key);
        li.setAttribute(keyAttr, key);
      }
      fill(li, item);
      if (list.children[i] !== li) { list.insertBefore(li, list.children[i] || null); }
    });
    old.forEach(function (li) { list.removeChild(li); });
  }

  // listItem makes an <li> holding one button that calls onClick.
  function listItem(buttonClass, onClick) {
    var li = document.createElement("li");
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = buttonClass;
    btn.addEventListener("click", onClick);
    li.appendChild(btn);
    return li;
  }

  // textRoom is false for a room meant for avatar clients only (st 2):
  // the protocol lists it, this client does not.
  function textRoom(r) {
    return r.st !== 2;
  }

  function renderRooms() {
    var rooms = state.rooms.filter(textRoom).sort(function (a, b) { return a.id - b.id; });
    var guest = state.me && state.me.guest;
    syncList(el.rooms, rooms, "data-room-id", function (r) { return String(r.id); }, function (key) {
      return listItem("room-button", function () {
        var r = findRoom(Number(key));
        if (r) { chooseRoom(r); }
      });
    }, function (li, r) {
      li.className = "room";
      li.setAttribute("data-locked", r.locked ? "true" : "false");
      li.setAttribute("data-open", r.open === false ? "false" : "true");
      li.setAttribute("data-guests", r.guests === false ? "false" : "true");
      var current = state.room && state.room.id === r.id;
      if (current) { li.classList.add("current"); }
      if (r.open === false) { li.classList.add("closed"); }
      if (guest && r.guests === false) { li.classList.add("unavailable"); }

      var btn = li.firstChild;
      btn.textContent = "";
      if (current) { btn.setAttribute("aria-current", "true"); } else { btn.removeAttribute("aria-current"); }

      var name = document.createElement("span");
      name.className = "room-name";
      name.textContent = r.name;
      btn.appendChild(name);
      if (r.locked) {
        var lock = svgIcon("lock");
        btn.appendChild(lock);
        var lt = document.createElement("span");
        lt.className = "sr-only";
        lt.textContent = " (password)";
        btn.appendChild(lt);
      }
      var count = document.createElement("span");
      count.className = "room-count-badge";
      count.textContent = r.max ? r.count + "/" + r.max : String(r.count || 0);
      count.setAttribute("aria-label", r.max ? r.count + " of " + r.max + " people" : (r.count || 0) + " people");
      btn.appendChild(count);

      var extras = document.createElement("span");
      extras.className = "room-flags";
      if (r.open === false) { extras.appendChild(badge("closed", "badge-closed")); }
      if (r.guests === false) { extras.appendChild(badge("members only", "badge-members")); }
      if (r.max && r.count >= r.max) { extras.appendChild(badge("full", "badge-full")); }
      if (extras.childNodes.length) { btn.appendChild(extras); }

      if (r.desc) {
        var d = document.createElement("span");
        d.className = "room-desc-line";
        d.textContent = r.desc;
        btn.appendChild(d);
      }
      btn.title = r.locked ? "Join " + r.name + " (password needed)" : "Join " + r.name;
    });
    el.roomsEmpty.hidden = rooms.length > 0;
  }

  function renderRoomHead() {
    var r = state.room;
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

  function sortUsers() {
    state.users.sort(function (a, b) {
      var x = a.toLowerCase(), y = b.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }

  function renderUsers() {
    var myName = state.me ? state.me.name : "";
    syncList(el.users, state.users, "data-user", function (u) { return u; }, function (key) {
      return listItem("user-button", function () { setPM(state.pm === key ? "" : key); });
    }, function (li, u) {
      var btn = li.firstChild;
      btn.textContent = u;
      li.className = "user";
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
    el.usersCount.textContent = state.room ? "(" + state.users.length + ")" : "";
  }

  function setPM(name) {
    if (state.me && name === state.me.name) { name = ""; }
    state.pm = name || "";
    el.pmTo.textContent = state.pm;
    el.pmTo.setAttribute("data-user", state.pm);
    el.pmBar.hidden = !state.pm;
    el.compose.classList.toggle("compose-pm", !!state.pm);
    renderUsers();
    updateCompose();
    if (state.pm) { closePanels(); }
    el.text.focus();
  }

  // endPM stops the private message, whose partner is gone, and says
  // where the messages go now.
  function endPM(why) {
    setPM("");
    addLine("info", why + (state.room ? "; your messages go to the room again." : "; the private message is cancelled."));
  }

  // sameName compares user names as the server does (without regard to
  // case).
  function sameName(a, b) {
    return String(a).toLowerCase() === String(b).toLowerCase();
  }

  function updateCompose() {
    var online = state.connected && !!state.me;
    var can = online && (!!state.room || !!state.pm);
    el.text.disabled = !can;
    el.send.disabled = !can;
    if (!online) {
      el.text.placeholder = "Not connected";
    } else if (state.pm) {
      el.text.placeholder = "Private message to " + state.pm;
    } else if (state.room) {
      el.text.placeholder = "Message " + state.room.name;
    } else {
      el.text.placeholder = "Join a room to chat";
    }
    applyStyle(el.text, state.style);
  }

  function applyStyle(node, st) {
    st = st || {};
    node.style.fontWeight = st.b ? "bold" : "";
    node.style.fontStyle = st.i ? "italic" : "";
    node.style.textDecoration = st.u ? "underline" : "";
    node.style.color = st.color && COLOR_RE.test(st.color) ? st.color : "";
  }

  function formatTime(ts) {
    var d = ts ? new Date(ts) : new Date();
    if (isNaN(d.getTime())) { d = new Date(); }
    return d;
  }

  function messageLine(kind, m) {
    var li = document.createElement("li");
    li.className = "msg msg-" + kind;
    li.setAttribute("data-kind", kind);
    li.setAttribute("data-from", m.from || "");
    if (m.id !== undefined && kind === "message") { li.setAttribute("data-id", String(m.id)); }

    var d = formatTime(m.ts);
    var time = document.createElement("time");
    time.className = "msg-time";
    time.dateTime = d.toISOString();
    time.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    time.title = d.toLocaleString();
    li.appendChild(time);

    var from = document.createElement("span");
    from.className = "msg-from";
    from.textContent = m.from || "";
    li.appendChild(from);

    var text = document.createElement("span");
    text.className = "msg-text";
    text.textContent = m.text || "";
    applyStyle(text, m.style);
    li.appendChild(text);
    return li;
  }

  function addMessage(m, fromHistory) {
    var li = messageLine("message", m);
    if (fromHistory) { li.classList.add("msg-history"); }
    if (state.me && m.from === state.me.name) { li.classList.add("msg-own"); }
    appendLine(li);
  }

  function addLine(kind, text) {
    var li = document.createElement("li");
    li.className = "msg msg-" + kind;
    li.setAttribute("data-kind", kind);
    var span = document.createElement("span");
    span.className = "msg-text";
    span.textContent = text;
    if (kind === "notice" || kind === "error") {
      var label = document.createElement("span");
      label.className = "msg-tag";
      label.textContent = kind === "notice" ? "Notice" : "Error";
      li.appendChild(label);
    }
    li.appendChild(span);
    appendLine(li);
  }

  function appendLine(li) {
    var box = el.messages;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.appendChild(li);
    while (box.childNodes.length > MAX_LINES) { box.removeChild(box.firstChild); }
    if (atBottom || li.classList.contains("msg-own") || li.classList.contains("msg-pm-out")) {
      box.scrollTop = box.scrollHeight;
    }
  }

  function clearMessages() {
    el.messages.textContent = "";
  }

  function showLoginError(text) {
    el.loginError.textContent = text;
    el.loginError.hidden = false;
  }

  function showRoomError(text) {
    el.roomError.textContent = text;
    el.roomError.hidden = false;
  }

  function hideRoomError() {
    el.roomError.hidden = true;
    el.roomError.textContent = "";
  }

  function showLogin() {
    el.chatView.hidden = true;
    el.me.hidden = true;
    el.toggles.hidden = true;
    el.loginView.hidden = false;
    el.connLost.hidden = true;
    stopRetry();
    el.loginUser.focus();
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
    if (typeof el.pwDialog.showModal === "function") {
      if (!el.pwDialog.open) { el.pwDialog.showModal(); }
    } else {
      el.pwDialog.setAttribute("open", "");
    }
    el.pwInput.focus();
  }

  function closePasswordDialog() {
    state.pwRoom = null;
    if (el.pwDialog.open) {
      if (typeof el.pwDialog.close === "function") { el.pwDialog.close(); } else { el.pwDialog.removeAttribute("open"); }
    }
  }

  // ---- panels (narrow screens) ------------------------------------------

  // On narrow screens the rooms and people panels are drawers over the
  // chat, with a backdrop (shown by the style sheet for the open drawer
  // named in the chat view's data-drawer) that closes them on a tap.
  function togglePanel(panel, button, other, otherButton) {
    var open = !panel.classList.contains("open");
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    other.classList.remove("open");
    otherButton.setAttribute("aria-expanded", "false");
    el.chatView.setAttribute("data-drawer", open ? (panel === el.roomsPanel ? "rooms" : "users") : "");
  }

  function closePanels() {
    el.roomsPanel.classList.remove("open");
    el.usersPanel.classList.remove("open");
    el.toggleRooms.setAttribute("aria-expanded", "false");
    el.toggleUsers.setAttribute("aria-expanded", "false");
    el.chatView.setAttribute("data-drawer", "");
  }

  // ---- wiring -----------------------------------------------------------

  function toggleStyle(key, button) {
    state.style[key] = !state.style[key];
    button.setAttribute("aria-pressed", state.style[key] ? "true" : "false");
    applyStyle(el.text, state.style);
    el.text.focus();
  }

  el.loginForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var user = el.loginUser.value.trim();
    var password = el.loginPassword.value;
    if (!user) {
      showLoginError("Please enter a user name.");
      el.loginUser.focus();
      return;
    }
    if (state.me) { return; }
    el.loginError.hidden = true;
    el.loginSubmit.disabled = true;
    state.rejoin = null;
    whenOpen(function () { sendLogin(user, password, false); });
  });

  el.compose.addEventListener("submit", function (e) {
    e.preventDefault();
    sendText();
  });

  el.text.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && state.pm) {
      e.preventDefault();
      setPM("");
    }
  });

  el.styleB.addEventListener("click", function () { toggleStyle("b", el.styleB); });
  el.styleI.addEventListener("click", function () { toggleStyle("i", el.styleI); });
  el.styleU.addEventListener("click", function () { toggleStyle("u", el.styleU); });
  function setColor(c) {
    state.style.color = COLOR_RE.test(c) ? c : "";
    el.styleColorClear.hidden = !state.style.color;
    el.styleColor.parentNode.classList.toggle("tool-color-set", !!state.style.color);
    el.styleColor.parentNode.title = state.style.color ? "Text color " + state.style.color : "Text color (default)";
    applyStyle(el.text, state.style);
  }
  el.styleColor.addEventListener("input", function () { setColor(el.styleColor.value); });
  el.styleColor.addEventListener("change", function () { setColor(el.styleColor.value); });
  el.styleColorClear.addEventListener("click", function () {
    setColor("");
    el.text.focus();
  });

  el.pmClear.addEventListener("click", function () { setPM(""); });

  el.leave.addEventListener("click", function () {
    if (state.room) { request({ type: "leave" }); }
  });

  el.reconnect.addEventListener("click", function () {
    state.retryDelay = RETRY_MIN_MS;
    reconnect();
  });

  el.toggleRooms.addEventListener("click", function () {
    togglePanel(el.roomsPanel, el.toggleRooms, el.usersPanel, el.toggleUsers);
  });
  el.toggleUsers.addEventListener("click", function () {
    togglePanel(el.usersPanel, el.toggleUsers, el.roomsPanel, el.toggleRooms);
  });
  el.backdrop.addEventListener("click", closePanels);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && el.chatView.getAttribute("data-drawer")) { closePanels(); }
  });

  el.pwForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var r = state.pwRoom;
    if (!r) { closePasswordDialog(); return; }
    var pw = el.pwInput.value;
    if (!pw) {
      el.pwError.textContent = "Please enter the room password.";
      el.pwError.hidden = false;
      el.pwInput.focus();
      return;
    }
    el.pwError.hidden = true;
    joinRoom(r.id, pw);
  });
  el.pwCancel.addEventListener("click", closePasswordDialog);
  el.pwDialog.addEventListener("close", function () { state.pwRoom = null; });

  window.addEventListener("online", function () {
    if (state.wantOnline && !state.connected) { reconnect(); }
  });

  el.logout.addEventListener("click", logout);

  useLoginLink(connect);
})();
