// Package optjoin joins options of one of the framework's option types
// (client.Option, server.Option, service.Option: functions of an
// unexported options type) into one option of that type, so that a
// package outside the framework can offer "one option that installs all
// of this".
package optjoin
