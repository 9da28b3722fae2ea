// Package echo is the handler the observe packages' tests and examples
// call: it echoes a text, after a delay or with an error when asked to.
package echo
