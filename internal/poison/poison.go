// Package poison makes misuse of memory a transport lent out visible.
// Built with the microsim_poison tag (`make poison`), the transports
// overwrite a received message when its lease ends (the package
// transport's ownership rule) instead of reusing it: its body's bytes
// become Byte and its header map holds only Key. A caller that reads a
// message after its lease then reads garbage that tests notice, and the
// race detector reports the overwrite racing with the read. Without the
// tag, On is false and the transports reuse the memory.
package poison

// Byte is what every byte of a poisoned body holds.
const Byte = 0xDB

// Key is the one key of a poisoned header map; its value is Value.
const (
	Key   = "Microsim-Poisoned"
	Value = "this message's lease ended: it was used after the next Recv or Close"
)

// Bytes overwrites every byte of b with Byte.
func Bytes(b []byte) {
	for i := range b {
		b[i] = Byte
	}
}

// Header empties h and sets Key. A nil h is left alone.
func Header(h map[string]string) {
	if h == nil {
		return
	}
	clear(h)
	h[Key] = Value
}
