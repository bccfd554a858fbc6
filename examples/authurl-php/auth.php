<?php
// Parlor Auth URL page.
//
// Parlor's authurl plugin sends every login attempt here (username,
// password, group, ip; GET query or POST form) and reads back one digit:
//
//   0 login ok                  1 wrong password (or: name taken, for a guest)
//   2 the name can't be used    3 login error (database trouble)
//   4 no such user              5 login ok as administrator
//
// A guest logs in without a password. For a registered name the answer is
// 1, so the guest cannot take it; for a fresh name it is 4 and the guest
// enters. See README.md and schema.sql.
//
// Database settings come from the environment:
//   PARLOR_AUTH_DB_HOST (127.0.0.1)  PARLOR_AUTH_DB_PORT (3306)
//   PARLOR_AUTH_DB_NAME (parlor)     PARLOR_AUTH_DB_USER (parlor)
//   PARLOR_AUTH_DB_PASSWORD ("")

declare(strict_types=1);

const AUTH_OK = 0;
const AUTH_WRONG_PASSWORD = 1;
const AUTH_NAME_UNUSABLE = 2;
const AUTH_ERROR = 3;
const AUTH_NO_SUCH_USER = 4;
const AUTH_ADMIN = 5;

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');

function answer(int $code): void
{
    echo $code;
    exit;
}

function param(string $name): string
{
    $value = $_POST[$name] ?? $_GET[$name] ?? '';
    return is_string($value) ? $value : '';
}

function setting(string $name, string $default): string
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

$username = trim(param('username'));
$password = param('password');

// Names the table cannot hold or that contain control characters.
if ($username === '' || strlen($username) > 64 || preg_match('/[\x00-\x1f\x7f]/', $username)) {
    answer(AUTH_NAME_UNUSABLE);
}

try {
    $dsn = sprintf(
        'mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4',
        setting('PARLOR_AUTH_DB_HOST', '127.0.0.1'),
        (int) setting('PARLOR_AUTH_DB_PORT', '3306'),
        setting('PARLOR_AUTH_DB_NAME', 'parlor')
    );
    $db = new PDO($dsn, setting('PARLOR_AUTH_DB_USER', 'parlor'), setting('PARLOR_AUTH_DB_PASSWORD', ''), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => false,
        PDO::ATTR_TIMEOUT => 2,
    ]);
    $stmt = $db->prepare('SELECT password_hash, is_admin, banned FROM users WHERE username = ? LIMIT 1');
    $stmt->execute([$username]);
    $user = $stmt->fetch(PDO::FETCH_ASSOC);
} catch (PDOException $e) {
    error_log('parlor auth.php: database error: ' . $e->getMessage());
    answer(AUTH_ERROR);
}

if ($user === false) {
    answer(AUTH_NO_SUCH_USER);      // unknown name: a guest may take it
}
if ((int) $user['banned'] === 1) {
    answer(AUTH_NAME_UNUSABLE);
}
if ($password === '') {
    answer(AUTH_WRONG_PASSWORD);    // a guest asking for a registered name
}
if (!password_verify($password, (string) $user['password_hash'])) {
    answer(AUTH_WRONG_PASSWORD);
}
answer((int) $user['is_admin'] === 1 ? AUTH_ADMIN : AUTH_OK);
