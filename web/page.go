package web

import _ "embed"

// pageHTML is the dashboard's one page: markup, style and script inline, so
// that it loads nothing from anywhere else.
//
//go:embed page.html
var pageHTML string
