package shapetext

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/describe"
)

type item struct {
	SKU   string `json:"sku"`
	Count int    `json:"count"`
}

type order struct {
	ID    string            `json:"id"`
	Items []item            `json:"items"`
	Tags  map[string]string `json:"tags"`
	Paid  bool              `json:"paid"`
	At    time.Time         `json:"at"`
	Big   int64             `json:"big,string"`
	Next  *order            `json:"next"`
}

func TestSignatureAndTemplate(t *testing.T) {
	s := describe.Type(reflect.TypeFor[*order]())
	require.Equal(t, `{"id": string, "items": [{"sku": string, "count": integer}], "tags": {string: string}, "paid": boolean, `+
		`"at": string(date-time), "big": string(integer), "next": {…}}`, Signature(s))
	tmpl := Template(s)
	require.Equal(t, `{"id": "", "items": [], "tags": {}, "paid": false, "at": "1970-01-01T00:00:00Z", "big": "0", "next": {}}`, tmpl)
	var o order
	require.NoError(t, json.Unmarshal([]byte(tmpl), &o), "the template decodes into the type")
	require.Equal(t, "?", Signature(nil))
	require.Equal(t, "{}", Template(nil))
}
