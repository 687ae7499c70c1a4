package verify

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

const (
	beginSigned = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSig    = "-----BEGIN PGP SIGNATURE-----"
	endSig      = "-----END PGP SIGNATURE-----"
)

// IsClearSigned reports whether data is a clearsigned message, using
// bmaptool's test: the data starts with "-----BEGIN PGP SIGNED MESSAGE-----".
func IsClearSigned(data []byte) bool {
	return bytes.HasPrefix(data, []byte(beginSigned))
}

// ClearSignedText returns the text of a clearsigned message without
// checking the signature (for --no-sig-verify). The message must still be
// well formed: header line, Hash headers, text, and a complete signature
// block with nothing but white space after it.
//
// The text is what gpg --decrypt (or gpg --verify --output -) prints: every
// line of the signed text has its "- " dash escape removed and its trailing
// spaces, tabs and carriage returns stripped, and ends in CR LF if it ended
// in CR LF in the message, else in LF. The last line ends like the others,
// although that line ending is not covered by the signature.
func ClearSignedText(msg []byte) ([]byte, error) {
	cm, err := parseClearSigned(msg)
	if err != nil {
		return nil, err
	}
	return cm.text, nil
}

// clearMessage is a parsed clearsigned message.
type clearMessage struct {
	hashes  []string // values of the Hash armor headers, e.g. "SHA256"
	text    []byte   // the text as gpg prints it
	signed  []byte   // the text as it is hashed (RFC 9580, section 7.2)
	armored []byte   // the signature block, from its BEGIN line to its END line
}

// Hash names allowed in the Hash armor header.
var armorHashNames = []string{"MD5", "SHA1", "RIPEMD160", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3-256", "SHA3-512"}

func malformed(off int, format string, args ...any) error {
	return &SignatureError{Err: ErrMalformed, Detail: fmt.Sprintf("clearsigned message: byte %d: ", off) + fmt.Sprintf(format, args...)}
}

// trimEOL strips trailing spaces, tabs and carriage returns, as gpg does
// before hashing each line of a clearsigned text.
func trimEOL(b []byte) []byte { return bytes.TrimRight(b, " \t\r") }

func parseClearSigned(msg []byte) (*clearMessage, error) {
	if !IsClearSigned(msg) {
		return nil, &SignatureError{Err: ErrNoSignature, Detail: "not a clearsigned message: no " + beginSigned + " line at the start"}
	}
	cm := &clearMessage{}
	off := 0
	// next returns the next line without its LF, and whether it had one.
	next := func() (line []byte, start int, ok bool) {
		start = off
		i := bytes.IndexByte(msg[off:], '\n')
		if i < 0 {
			off = len(msg)
			return msg[start:], start, false
		}
		off += i + 1
		return msg[start : start+i], start, true
	}

	line, _, ok := next()
	if !ok || string(trimEOL(line)) != beginSigned {
		return nil, malformed(0, "bad begin line")
	}

	// Armor headers, up to an empty line. Only Hash is allowed (RFC 9580,
	// section 7.1); gpg and go-crypto refuse others too.
	for {
		line, start, ok := next()
		if len(bytes.TrimSpace(line)) == 0 {
			if !ok {
				return nil, malformed(start, "message ends in the armor headers")
			}
			break
		}
		key, val, found := strings.Cut(string(trimEOL(line)), ":")
		if !found || strings.TrimSpace(key) != "Hash" {
			return nil, malformed(start, "unsupported armor header %q", oneLine(clip(string(line), 40)))
		}
		for _, v := range strings.Split(val, ",") {
			v = strings.ToUpper(strings.TrimSpace(v))
			if !slices.Contains(armorHashNames, v) {
				return nil, malformed(start, "unknown hash %q in the hash header", oneLine(clip(v, 20)))
			}
			cm.hashes = append(cm.hashes, v)
		}
	}

	// The signed text, up to the line that starts the signature block.
	first := true
	for {
		line, start, ok := next()
		if !ok {
			return nil, malformed(start, "no %s line after the text", beginSig)
		}
		if string(trimEOL(line)) == beginSig {
			cm.armored = msg[start:]
			break
		}
		crlf := len(line) > 0 && line[len(line)-1] == '\r'
		content := line
		if bytes.HasPrefix(content, []byte("- ")) {
			content = content[2:]
		}
		content = trimEOL(content)
		cm.text = append(cm.text, content...)
		if crlf {
			cm.text = append(cm.text, '\r', '\n')
		} else {
			cm.text = append(cm.text, '\n')
		}
		if !first {
			cm.signed = append(cm.signed, '\r', '\n')
		}
		first = false
		cm.signed = append(cm.signed, content...)
	}
	if cm.text == nil {
		cm.text = []byte{}
	}

	// The signature block ends with the END line; only white space may
	// follow, so no unsigned text can ride along.
	sigStart := len(msg) - len(cm.armored) // offset of the BEGIN line
	i := bytes.Index(cm.armored, []byte("\n"+endSig))
	if i < 0 {
		return nil, malformed(sigStart, "no %s line", endSig)
	}
	end := i + 1 + len(endSig)
	if j := bytes.IndexByte(cm.armored[end:], '\n'); j >= 0 {
		end += j + 1
	} else {
		end = len(cm.armored)
	}
	if len(trimEOL(bytes.TrimRight(cm.armored[i+1+len(endSig):end], "\n"))) != 0 {
		return nil, malformed(sigStart+i+1, "text after %s", endSig)
	}
	if k := len(bytes.TrimLeft(cm.armored[end:], " \t\r\n")); k != 0 {
		return nil, malformed(len(msg)-k, "unsigned data after the signature")
	}
	cm.armored = cm.armored[:end]
	return cm, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
