<?php
// A small website with its own login that logs its users in to a Parlor
// chat through the SSO plugin (docs/sso.md).
//
// Run it with PHP's built-in server next to a running chat:
//
//   PARLOR_CHAT_URL=http://127.0.0.1:8080 PARLOR_SSO_API_KEY=... \
//     php -S 127.0.0.1:8000 -t examples/sso-website
//
// Settings (environment):
//   PARLOR_CHAT_URL      the chat's public base URL (no trailing slash)
//   PARLOR_SSO_API_KEY   the SSO plugin's api_key; never sent to browsers
//
// The site's own session cookie is named "example_site", distinct from the
// chat's "parlor_session": on one host (127.0.0.1:8000 and :8080) cookies
// are shared across ports.

declare(strict_types=1);

const SITE_COOKIE = 'example_site';

// The site's users: name => [e-mail, bcrypt hash of the password].
// alice / wonderland, bob / builder.
const USERS = [
    'alice' => ['alice@example.com', '$2y$10$SdvZvVWKWOdfGLbsg0lMmeNi23nmzmfL7mDQtqMw43VkOkuRWp31q'],
    'bob'   => ['bob@example.com', '$2y$10$zq0WEP856F41emHshf8jPuAwMq4tDiiDtgyIOJ8.Cpzjl5izgUkZy'],
];

function chat_url(): string
{
    $u = getenv('PARLOR_CHAT_URL');
    return rtrim($u !== false && $u !== '' ? $u : 'http://127.0.0.1:8080', '/');
}

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

// sso_generate asks the chat, server to server, for an access token that
// logs $name in. It returns [token, error message].
function sso_generate(string $name, string $email): array
{
    $key = getenv('PARLOR_SSO_API_KEY');
    if ($key === false || $key === '') {
        return ['', 'PARLOR_SSO_API_KEY is not set.'];
    }
    $url = chat_url() . '/sso/token/generate?' . http_build_query([
        'apikey' => $key, 'username' => $name, 'email' => $email,
    ]);
    $ctx = stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true]]);
    $body = @file_get_contents($url, false, $ctx);
    if ($body === false) {
        return ['', 'The chat could not be reached.'];
    }
    $res = json_decode($body, true);
    if (!is_array($res) || empty($res['success']) || empty($res['access_token'])) {
        return ['', is_array($res) && isset($res['message']) ? (string)$res['message'] : 'The chat answered an unexpected reply.'];
    }
    return [(string)$res['access_token'], ''];
}

function page(string $title, string $body): void
{
    header('Content-Type: text/html; charset=utf-8');
    header('Cache-Control: no-store');
    echo "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", h($title),
        "</title></head>\n<body>\n<h1>Example site</h1>\n", $body, "\n</body></html>\n";
}

session_name(SITE_COOKIE);
session_set_cookie_params(['httponly' => true, 'samesite' => 'Lax', 'path' => '/']);
session_start();

$action = $_GET['action'] ?? '';
$chat = chat_url();

if ($action === 'login' && $_SERVER['REQUEST_METHOD'] === 'POST') {
    $name = (string)($_POST['username'] ?? '');
    $password = (string)($_POST['password'] ?? '');
    $user = USERS[$name] ?? null;
    if ($user === null || !password_verify($password, $user[1])) {
        page('Log in', '<p id="error">Wrong user name or password.</p><p><a href="/">Try again</a></p>');
        exit;
    }
    [$token, $err] = sso_generate($name, $user[0]);
    session_regenerate_id(true);
    $_SESSION['user'] = $name;
    $_SESSION['token'] = $token;
    $_SESSION['remember'] = !empty($_POST['remember']) ? '1' : '0';
    $_SESSION['sso_error'] = $err;
    header('Location: /?action=welcome', true, 303);
    exit;
}

if ($action === 'logout') {
    $name = $_SESSION['user'] ?? '';
    $_SESSION = [];
    session_destroy();
    $img = '';
    if ($name !== '' && isset(USERS[$name])) {
        // The token of the login may have expired: ask for a fresh one.
        [$token, $err] = sso_generate($name, USERS[$name][0]);
        if ($token !== '') {
            $src = $chat . '/sso/token/logout?' . http_build_query(['access_token' => $token]);
            $img = '<img id="chat-logout" border="0" width="1" height="1" alt="" src="' . h($src) . '">';
        }
    }
    page('Logged out', '<p id="logged-out">You are logged out.</p>' . $img . '<p><a href="/">Home</a></p>');
    exit;
}

if ($action === 'register') {
    page('Create account', '<p id="register">This example site has a fixed list of users; registration is closed.</p><p><a href="/">Home</a></p>');
    exit;
}

$name = $_SESSION['user'] ?? '';
if ($name === '') {
    page('Log in', <<<HTML
<form id="login" method="post" action="/?action=login">
  <p><label>User name <input id="username" name="username" autocomplete="username"></label></p>
  <p><label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label></p>
  <p><label><input id="remember" name="remember" type="checkbox" value="1"> Remember me</label></p>
  <p><button id="submit" type="submit">Log in</button></p>
</form>
HTML);
    exit;
}

// Logged in: the IMG tag logs the browser in to the chat; the chat link
// works with it, and the link carrying the token works also in browsers
// that refuse the chat's cookie in an image from this site.
$body = '<p id="welcome">Welcome, <span id="user">' . h($name) . '</span>.</p>';
$token = (string)($_SESSION['token'] ?? '');
$remember = (string)($_SESSION['remember'] ?? '0');
if ($token !== '') {
    $q = http_build_query(['access_token' => $token, 'rememberMe' => $remember]);
    $body .= '<img id="chat-login" border="0" width="1" height="1" alt="" src="' . h($chat . '/sso/token/login?' . $q) . '">';
    $body .= '<p><a id="chat-link" href="' . h($chat . '/') . '">Launch chat room</a></p>';
    $body .= '<p><a id="chat-token-link" href="' . h($chat . '/?' . $q) . '">Chat Room (link for browsers without third-party cookies)</a></p>';
} else {
    $body .= '<p id="sso-error">The chat is not available: ' . h((string)($_SESSION['sso_error'] ?? '')) . '</p>';
}
$body .= '<p><a id="logout" href="/?action=logout">Log out</a></p>';
page('Welcome', $body);
