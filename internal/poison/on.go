//go:build microsim_poison

package poison

// On reports whether the binary was built with the microsim_poison tag.
const On = true
