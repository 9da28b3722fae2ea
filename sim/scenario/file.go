package scenario

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"unicode/utf8"
)

// MaxFileSize is the largest scenario file Load and Parse accept, 1 MiB:
// the largest shipped scenario is a few KiB, and a bound on the text
// bounds the parser's time and memory.
const MaxFileSize = 1 << 20

// maxErrors is the most problems one file reports; the rest are counted
// in a last line.
const maxErrors = 100

// utf8BOM is the byte-order mark some editors put at the start of a
// UTF-8 file; it is skipped.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readScenarioFile reads a regular file of at most MaxFileSize bytes. It
// looks at the file's type before opening it, so that a FIFO (which would
// block the open until a writer comes) or a directory is refused at once.
func readScenarioFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the scenario: %w", pathErr(err))
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the scenario: %w", pathErr(err))
	}
	defer f.Close()
	// The file may have been replaced or grown since Stat: check again
	// and read at most one byte past the limit.
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read the scenario: %w", pathErr(err))
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the scenario: %w", pathErr(err))
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

// pathErr drops the operation and path of a *fs.PathError (the file is
// named by the Error that holds the message).
func pathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func checkRegular(fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		if fi.Size() > MaxFileSize {
			return tooLarge(fi.Size())
		}
		return nil
	case m.IsDir():
		return fmt.Errorf("cannot read the scenario: it is a directory, not a file")
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("cannot read the scenario: it is a named pipe (FIFO); give a regular file")
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("cannot read the scenario: it is a socket; give a regular file")
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("cannot read the scenario: it is a device; give a regular file")
	}
	return fmt.Errorf("cannot read the scenario: it is not a regular file (mode %v)", m)
}

func tooLarge(size int64) error {
	return fmt.Errorf("the file is too large: %d bytes; a scenario file is at most %d bytes (1 MiB)", size, MaxFileSize)
}

// checkText checks that data is a scenario's text: at most MaxFileSize
// bytes of UTF-8 without a shape that the YAML parser takes too long on
// (see prescan). It returns data without a leading byte-order mark.
func checkText(file string, data []byte) ([]byte, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: file, Msg: tooLarge(int64(len(data))).Error()}}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if !utf8.Valid(data) {
		pos, b := firstInvalid(data)
		return nil, ErrorList{{File: file, Pos: pos,
			Msg: fmt.Sprintf("the file is not UTF-8 text: byte 0x%02X is not valid UTF-8 (save the file as UTF-8; a Latin-1 or Windows-1252 file gives this)", b)}}
	}
	if pos, msg, ok := prescan(data); !ok {
		return nil, ErrorList{{File: file, Pos: pos, Msg: msg}}
	}
	return data, nil
}

// firstInvalid returns the line and column (in characters, 1-based) of
// the first byte of data that is not valid UTF-8, and that byte.
func firstInvalid(data []byte) (Pos, byte) {
	pos := Pos{Line: 1, Col: 1}
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n <= 1 {
			return pos, data[0]
		}
		if r == '\n' {
			pos.Line++
			pos.Col = 1
		} else {
			pos.Col++
		}
		data = data[n:]
	}
	return pos, 0
}

// capErrors keeps the first maxErrors problems of a sorted list and says
// how many more there were.
func capErrors(l ErrorList) ErrorList {
	if len(l) <= maxErrors {
		return l
	}
	more := len(l) - maxErrors
	l = append(l[:maxErrors:maxErrors], &Error{File: l[0].File, Msg: fmt.Sprintf("%d more problems not shown", more)})
	return l
}
