// Package ssowebsite holds the test that walks the example website
// (index.php) with headless Chromium against a chat running the SSO
// plugin. The website itself is PHP; see README.md.
package ssowebsite
