package sim

import (
	"math"
	"math/bits"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// histLayout is the bucket layout of an hdr.Histogram whose lowest value
// is 1: histIndex of a value is the index of its counter in the
// histogram's counts (hdr.Snapshot.Counts), so that counts kept apart
// make the very histogram (hdr.Import) that recording the values would.
type histLayout struct {
	halfMag int    // log2 of half the sub-buckets of a bucket
	mask    uint64 // the sub-bucket mask
	counts  int    // the number of counters
}

// newHistLayout is the layout of hdr.New(1, highest, digits).
func newHistLayout(highest int64, digits int) histLayout {
	// As hdr.New: single-unit resolution up to 2*10^digits, in a power
	// of two sub-buckets.
	mag := int(math.Ceil(math.Log2(2 * math.Pow10(digits))))
	halfMag := max(mag, 1) - 1
	return histLayout{halfMag: halfMag, mask: 1<<(halfMag+1) - 1,
		counts: len(hdr.New(1, highest, digits).Export().Counts)}
}

// index is the counter of v (not negative): hdr's countsIndexFor.
func (l histLayout) index(v int64) int {
	b := 64 - bits.LeadingZeros64(uint64(v)|l.mask) - (l.halfMag + 1)
	return (b+1)<<l.halfMag + int(v>>b) - 1<<l.halfMag
}

// value is the lowest value that counts in counter idx: the inverse of
// index.
func (l histLayout) value(idx int) int64 {
	half := 1 << l.halfMag
	b, sub := idx>>l.halfMag-1, idx&(half-1)+half
	if b < 0 { // the lower half of the first bucket
		b, sub = 0, idx
	}
	return int64(sub) << b
}
