// Parlor web client. Speaks the JSON-over-WebSocket protocol of
// docs/protocol.md at /ws (or at the servers the page names,
// connection.js serverURLs). ES modules, no dependencies, no build step;
// this entry point builds the parts and wires them together:
//   js/connection.js  the WebSocket, pings, reconnect backoff
//   js/protocol.js    requests as Promises, events to subscribers
//   js/session.js     login, SSO, reconnect with the token, logout
//   js/views/*.js     rooms, users, messages, compose, panels
//   js/extensions.js  the modules' client extensions and their API
// User-supplied text is only ever placed with textContent.

import { Connection, serverURLs } from "./js/connection.js";
import { elements } from "./js/dom.js";
import { createExtensions } from "./js/extensions.js";
import { Protocol } from "./js/protocol.js";
import { createSession } from "./js/session.js";
import { createCompose } from "./js/views/compose.js";
import { createMessages } from "./js/views/messages.js";
import { createPanels } from "./js/views/panels.js";
import { createRooms } from "./js/views/rooms.js";
import { createUsers } from "./js/views/users.js";

const conn = new Connection({ urls: serverURLs() });
const proto = new Protocol(conn);
const app = {
  el: elements(),
  conn: conn,
  proto: proto,
  state: {
    hello: null,          // the server's hello
    me: null,             // login_ok.user
    // How to sign in again after a dropped connection, without a password:
    // {user, token} (the reconnect token of a password login), {session: true}
    // (the login cookie), {user, guest: true} (a guest, by name) or {user}
    // (nothing: the user signs in again).
    login: null,
    wantOnline: false,    // the user is signed in and expects to stay connected
    rooms: [],            // ROOM objects: the last rooms event with the rooms_delta events since
    room: null,           // the ROOM the user is in
    roomPassword: "",     // password used for the current room (for rejoins)
    rejoin: null,         // {id, password} to join again after a reconnect
    pwRoom: null,         // room awaiting a password in the dialog
    sso: null,            // the SSO plugin's settings (login, logout, register URLs)
    ssoAsked: false,      // /sso/settings was requested
    sessionTried: false,  // a login with the session cookie was tried
    loggingOut: false,    // the user asked to log out
    linkError: ""         // why a login link (?access_token=...) failed
  },
  // emitLocal gives subscribers an event the client makes itself
  // ("disconnected").
  emitLocal(type, ev) { proto.emit(type, Object.assign({ type: type }, ev), null); }
};

// The views subscribe to events in this order: the session first (login),
// then the views, extensions last (they see the state the views made).
const session = createSession(app);
app.panels = createPanels(app);
app.messages = createMessages(app);
app.users = createUsers(app);
app.rooms = createRooms(app);
app.compose = createCompose(app);
app.ext = createExtensions(app);

session.start();
