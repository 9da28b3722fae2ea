package scenario

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// SeqPlaceholder in a request (of a workload or a step) is replaced by the call's sequence number,
// so that every call can carry a key of its own (an order ID).
const SeqPlaceholder = "{{seq}}"

// ExpandRequest is the JSON request of the call with sequence number seq:
// tmpl with every SeqPlaceholder replaced by seq.
func ExpandRequest(tmpl json.RawMessage, seq uint64) json.RawMessage {
	i := bytes.Index(tmpl, []byte(SeqPlaceholder))
	if i < 0 {
		return tmpl
	}
	n := strconv.FormatUint(seq, 10)
	return json.RawMessage(bytes.ReplaceAll(tmpl, []byte(SeqPlaceholder), []byte(n)))
}
