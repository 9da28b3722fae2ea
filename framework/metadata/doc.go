// Package metadata carries request metadata in a context.Context. The client
// sends the metadata found in a call's ctx as message headers; the server puts
// the headers it receives back into the handler's ctx, so metadata flows on to
// every onward call the handler makes.
//
// Keys are case-insensitive: they are stored in canonical form
// (textproto.CanonicalMIMEHeaderKey). Keys beginning with "Micro-" are
// reserved for the framework's own headers and are never propagated as
// metadata.
package metadata
