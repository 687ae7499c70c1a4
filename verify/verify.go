package verify

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Signer identifies the key that made a good signature.
type Signer struct {
	UserID                string    // primary user id, e.g. "Name <email>"; may be empty
	Fingerprint           string    // primary key fingerprint, upper-case hex
	SigningKeyFingerprint string    // fingerprint of the (sub)key that made the signature
	Created               time.Time // signature creation time
}

// String returns a one-line description:
// "Name <email> (fingerprint XXXX)" or, for a subkey signature,
// "Name <email> (fingerprint XXXX, subkey YYYY)". Control characters in the
// user id are escaped.
func (s *Signer) String() string {
	if s == nil {
		return "unknown signer"
	}
	name := oneLine(s.UserID)
	if name == "" {
		name = "key without user id"
	}
	if s.SigningKeyFingerprint != "" && s.SigningKeyFingerprint != s.Fingerprint {
		return fmt.Sprintf("%s (fingerprint %s, subkey %s)", name, s.Fingerprint, s.SigningKeyFingerprint)
	}
	return fmt.Sprintf("%s (fingerprint %s)", name, s.Fingerprint)
}

// Options tune a verification. The zero value accepts any good signature
// from the keyring, judged at the current time.
type Options struct {
	// Fingerprint, if set, accepts only signatures by this key: the
	// primary key or the signing subkey. Full fingerprint (40 or 64 hex
	// digits); case, spaces and a 0x prefix are ignored.
	Fingerprint string
	// Now is the time at which key and signature validity (expiry,
	// revocation) is judged; nil means time.Now.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// NormalizeFingerprint returns fpr as upper-case hex without spaces or 0x
// prefix. It fails with ErrInvalidFingerprint unless the result is a full
// v4 (40 digits) or v6 (64 digits) fingerprint; short key ids are refused
// because they are easy to collide.
func NormalizeFingerprint(fpr string) (string, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, fpr)
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	s = strings.ToUpper(s)
	if _, err := hex.DecodeString(s); err != nil || (len(s) != 40 && len(s) != 64) {
		return "", fmt.Errorf("%w %q: want 40 or 64 hex digits", ErrInvalidFingerprint, fpr)
	}
	return s, nil
}

// Detached verifies sig, a detached signature (armored, as gpg --armor
// --detach-sign writes, or binary), over data. It returns the signer or an
// error that wraps one of the signature sentinels.
func Detached(kr *Keyring, data, sig []byte, opts Options) (*Signer, error) {
	if kr == nil {
		return nil, fmt.Errorf("%w: nil keyring", ErrNoKeyring)
	}
	want, err := wantFingerprint(opts)
	if err != nil {
		return nil, err
	}
	packets, err := signaturePackets(sig)
	if err != nil {
		return nil, err
	}
	return check(kr, data, packets, nil, want, opts.now())
}

// ClearSigned verifies a clearsigned message (gpg --clearsign) and returns
// its text exactly as gpg --decrypt prints it (see ClearSignedText).
func ClearSigned(kr *Keyring, msg []byte, opts Options) ([]byte, *Signer, error) {
	if kr == nil {
		return nil, nil, fmt.Errorf("%w: nil keyring", ErrNoKeyring)
	}
	want, err := wantFingerprint(opts)
	if err != nil {
		return nil, nil, err
	}
	cm, err := parseClearSigned(msg)
	if err != nil {
		return nil, nil, err
	}
	blk, err := armor.Decode(bytes.NewReader(cm.armored))
	if err != nil {
		return nil, nil, &SignatureError{Err: ErrMalformed, Detail: "clearsigned message: signature armor", Cause: err}
	}
	if blk.Type != "PGP SIGNATURE" {
		return nil, nil, &SignatureError{Err: ErrMalformed, Detail: fmt.Sprintf("clearsigned message: armored block is %q, want \"PGP SIGNATURE\"", blk.Type)}
	}
	packets, err := io.ReadAll(blk.Body)
	if err != nil {
		return nil, nil, &SignatureError{Err: ErrMalformed, Detail: "clearsigned message: signature armor", Cause: err}
	}
	signer, err := check(kr, cm.signed, packets, cm.hashes, want, opts.now())
	if err != nil {
		return nil, nil, err
	}
	return cm.text, signer, nil
}

func wantFingerprint(opts Options) (string, error) {
	if opts.Fingerprint == "" {
		return "", nil
	}
	return NormalizeFingerprint(opts.Fingerprint)
}

// signaturePackets returns the binary OpenPGP packets of a detached
// signature, removing ASCII armor if present.
func signaturePackets(sig []byte) ([]byte, error) {
	t := bytes.TrimLeft(sig, " \t\r\n")
	switch {
	case len(t) == 0:
		return nil, &SignatureError{Err: ErrNoSignature, Detail: "signature is empty"}
	case bytes.HasPrefix(t, []byte(beginSigned)):
		return nil, &SignatureError{Err: ErrNoSignature, Detail: "got a clearsigned message, not a detached signature"}
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP ")):
		blk, err := armor.Decode(bytes.NewReader(t))
		if err != nil {
			return nil, &SignatureError{Err: ErrMalformed, Detail: "signature armor", Cause: err}
		}
		if blk.Type != "PGP SIGNATURE" {
			return nil, &SignatureError{Err: ErrNoSignature, Detail: fmt.Sprintf("armored block is %q, not a signature", blk.Type)}
		}
		body, err := io.ReadAll(blk.Body)
		if err != nil {
			return nil, &SignatureError{Err: ErrMalformed, Detail: "signature armor", Cause: err}
		}
		return body, nil
	case sig[0]&0x80 == 0:
		return nil, &SignatureError{Err: ErrNoSignature, Detail: "neither armored nor binary openpgp data"}
	}
	return sig, nil
}

// sigPacket is one signature packet of a detached signature.
type sigPacket struct {
	hashID byte              // hash algorithm id read from the raw packet (0 if unknown)
	keyID  string            // issuer key id read from the raw packet ("" if unknown)
	issuer string            // issuer description read from the raw packet
	sig    *packet.Signature // nil when go-crypto cannot parse it
	err    error             // why sig is nil
}

// OpenPGP hash algorithm ids (RFC 9580, section 9.5).
var hashNames = map[byte]string{
	1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384",
	10: "SHA512", 11: "SHA224", 12: "SHA3-256", 14: "SHA3-512",
}

func hashName(id byte) string {
	if n, ok := hashNames[id]; ok {
		return n
	}
	return fmt.Sprintf("hash algorithm %d", id)
}

// weakHash reports hash algorithms refused for signatures over data:
// collisions are practical for MD5 and SHA-1, and RIPEMD-160 is deprecated
// alongside SHA-1 (RFC 9580 forbids making signatures with all three).
func weakHash(id byte) bool { return id == 1 || id == 2 || id == 3 }

// scanSignatures lists the signature packets in packets. The hash
// algorithm is read from the raw bytes so that signatures go-crypto will not
// parse (MD5 ones, for instance) are still reported precisely.
func scanSignatures(packets []byte) ([]sigPacket, error) {
	var out []sigPacket
	or := packet.NewOpaqueReader(bytes.NewReader(packets))
	for {
		op, err := or.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &SignatureError{Err: ErrMalformed, Detail: fmt.Sprintf("signature packet %d", len(out)+1), Cause: err}
		}
		switch op.Tag {
		case 2: // signature
		case 10: // marker, ignored by definition
			continue
		default:
			return nil, &SignatureError{Err: ErrNoSignature, Detail: fmt.Sprintf("not a detached signature: found openpgp packet type %d", op.Tag)}
		}
		var sp sigPacket
		c := op.Contents
		switch {
		case len(c) > 16 && c[0] == 3:
			sp.hashID = c[16]
		case len(c) > 3 && c[0] >= 4:
			sp.hashID = c[3]
		}
		sp.keyID, sp.issuer = rawIssuer(c)
		p, err := op.Parse()
		switch s, ok := p.(*packet.Signature); {
		case err != nil:
			sp.err = err
		case !ok:
			sp.err = fmt.Errorf("unexpected packet %T", p)
		default:
			sp.sig = s
		}
		out = append(out, sp)
	}
	if len(out) == 0 {
		return nil, &SignatureError{Err: ErrNoSignature, Detail: "no signature packet"}
	}
	return out, nil
}

// rawIssuer reads the issuer subpackets of a v4 signature packet body that
// go-crypto may not parse, for error messages.
func rawIssuer(c []byte) (keyID, desc string) {
	if len(c) < 6 || c[0] != 4 {
		return "", ""
	}
	hashed := int(binary.BigEndian.Uint16(c[4:]))
	if 6+hashed+2 > len(c) {
		return "", ""
	}
	areas := [][]byte{c[6 : 6+hashed]}
	if unhashed := int(binary.BigEndian.Uint16(c[6+hashed:])); 8+hashed+unhashed <= len(c) {
		areas = append(areas, c[8+hashed:8+hashed+unhashed])
	}
	var fpr string
	for _, a := range areas {
		subs, _ := packet.OpaqueSubpackets(a)
		for _, sub := range subs {
			switch sub.SubType & 0x7f {
			case 16: // issuer key id
				if len(sub.Contents) == 8 && keyID == "" {
					keyID = keyIDString(binary.BigEndian.Uint64(sub.Contents))
				}
			case 33: // issuer fingerprint: version, fingerprint
				if len(sub.Contents) > 1 && fpr == "" {
					fpr = fprString(sub.Contents[1:])
				}
			}
		}
	}
	if keyID == "" && len(fpr) >= 16 {
		keyID = fpr[len(fpr)-16:] // v4: the key id ends the fingerprint
	}
	switch {
	case keyID == "":
		return "", ""
	case fpr == "":
		return keyID, "key id " + keyID
	}
	return keyID, "key id " + keyID + " (fingerprint " + fpr + ")"
}

func keyIDString(id uint64) string { return fmt.Sprintf("%016X", id) }

func fprString(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// issuer names the key a signature claims to come from.
func issuer(s *packet.Signature) string {
	msg := "key id " + keyIDString(*s.IssuerKeyId)
	if len(s.IssuerFingerprint) > 0 {
		msg += " (fingerprint " + fprString(s.IssuerFingerprint) + ")"
	}
	return msg
}

// check verifies packets (binary signature packets) over signed. hashes,
// if not empty, lists the hash algorithms the clearsign Hash header allows.
func check(kr *Keyring, signed, packets []byte, hashes []string, want string, now time.Time) (*Signer, error) {
	sps, err := scanSignatures(packets)
	if err != nil {
		return nil, err
	}

	// Pick the signature go-crypto will check: the first parsable one whose
	// issuer has a signing-capable key in the keyring.
	var cand *sigPacket
	var claimed string // the keyring key the candidate claims to come from
	var unknown, notSigning []string
	var unknownID, notSigningID uint64
	var weakUnparsed, firstUnparsed *sigPacket
	for i := range sps {
		sp := &sps[i]
		if sp.sig == nil {
			if weakHash(sp.hashID) && weakUnparsed == nil {
				weakUnparsed = sp
			}
			if firstUnparsed == nil {
				firstUnparsed = sp
			}
			continue
		}
		if sp.sig.IssuerKeyId == nil {
			return nil, &SignatureError{Err: ErrMalformed, Detail: "signature names no issuer key"}
		}
		id := *sp.sig.IssuerKeyId
		keys := kr.entities.KeysByIdUsage(id, packet.KeyFlagSign)
		if len(keys) == 0 {
			if len(kr.entities.KeysById(id)) > 0 {
				if len(notSigning) == 0 {
					notSigningID = id
				}
				notSigning = append(notSigning, issuer(sp.sig))
			} else {
				if len(unknown) == 0 {
					unknownID = id
				}
				unknown = append(unknown, issuer(sp.sig))
			}
			continue
		}
		cand = sp
		claimed = newSigner(keys[0].Entity, sp.sig).String()
		break
	}
	if cand == nil {
		switch {
		case weakUnparsed != nil:
			by := ""
			if weakUnparsed.issuer != "" {
				by = " by " + weakUnparsed.issuer
			}
			return nil, &SignatureError{Err: ErrWeakHash, KeyID: weakUnparsed.keyID,
				Detail: fmt.Sprintf("signature%s uses %s", by, hashName(weakUnparsed.hashID))}
		case len(notSigning) > 0:
			return nil, &SignatureError{Err: ErrUnknownSigner, KeyID: keyIDString(notSigningID),
				Detail: notSigning[0] + " is in the keyring but not valid for signing"}
		case len(unknown) > 0:
			return nil, &SignatureError{Err: ErrUnknownSigner, KeyID: keyIDString(unknownID),
				Detail: "no public key for " + strings.Join(unknown, ", ")}
		default:
			detail := "unsupported signature"
			if firstUnparsed.issuer != "" {
				detail += " by " + firstUnparsed.issuer
			}
			return nil, &SignatureError{Err: ErrBadSignature, KeyID: firstUnparsed.keyID, Detail: detail, Cause: firstUnparsed.err}
		}
	}
	kid := keyIDString(*cand.sig.IssuerKeyId)
	if weakHash(cand.hashID) {
		return nil, &SignatureError{Err: ErrWeakHash, KeyID: kid, Detail: fmt.Sprintf("signature by %s uses %s", claimed, hashName(cand.hashID))}
	}
	if len(hashes) > 0 && !slices.Contains(hashes, hashName(cand.hashID)) {
		return nil, &SignatureError{Err: ErrMalformed, KeyID: kid,
			Detail: fmt.Sprintf("clearsigned message: hash header lists %s but the signature uses %s", strings.Join(hashes, ", "), hashName(cand.hashID))}
	}

	cfg := &packet.Config{Time: func() time.Time { return now }}
	sig, ent, err := openpgp.VerifyDetachedSignature(kr.entities, bytes.NewReader(signed), bytes.NewReader(packets), cfg)
	if err != nil {
		if sig == nil || ent == nil {
			// The signature itself failed (or could not be checked).
			return nil, &SignatureError{Err: ErrBadSignature, KeyID: kid,
				Detail: "the data does not match the signature by " + claimed, Cause: err}
		}
		// The signature is good, but the key or a signature is not valid now.
		signer := newSigner(ent, sig)
		sentinel, detail := keyProblem(ent, sig, now, err)
		return nil, &SignatureError{Err: sentinel, KeyID: kid, Signer: signer, Detail: detail}
	}
	signer := newSigner(ent, sig)
	if sig.Hash == crypto.MD5 || sig.Hash == crypto.SHA1 || sig.Hash == crypto.RIPEMD160 {
		// Unreachable while go-crypto checks the packet we picked; kept as
		// a guard should its selection ever differ from ours.
		return nil, &SignatureError{Err: ErrWeakHash, KeyID: kid, Detail: fmt.Sprintf("signature by %s uses %v", signer, sig.Hash)}
	}
	if want != "" && want != signer.Fingerprint && want != signer.SigningKeyFingerprint {
		return nil, &SignatureError{Err: ErrFingerprintMismatch, KeyID: kid, Signer: signer,
			Detail: fmt.Sprintf("signed by %s, want %s", signer, want)}
	}
	return signer, nil
}

// newSigner describes the key of e that made sig.
func newSigner(e *openpgp.Entity, sig *packet.Signature) *Signer {
	s := &Signer{
		Fingerprint: fprString(e.PrimaryKey.Fingerprint),
		Created:     sig.CreationTime,
	}
	if id := e.PrimaryIdentity(); id != nil {
		s.UserID = id.Name
	}
	s.SigningKeyFingerprint = s.Fingerprint
	if pk := signingKey(e, sig); pk != nil {
		s.SigningKeyFingerprint = fprString(pk.Fingerprint)
	}
	return s
}

// signingKey returns the key of e that sig names as its issuer, and the
// self-signature that binds it (nil for the primary key).
func signingKey(e *openpgp.Entity, sig *packet.Signature) *packet.PublicKey {
	pk, _ := signingKeyAndBinding(e, sig)
	return pk
}

func signingKeyAndBinding(e *openpgp.Entity, sig *packet.Signature) (*packet.PublicKey, *openpgp.Subkey) {
	match := func(pk *packet.PublicKey) bool {
		if len(sig.IssuerFingerprint) > 0 {
			return bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint)
		}
		return sig.IssuerKeyId != nil && *sig.IssuerKeyId == pk.KeyId
	}
	if match(e.PrimaryKey) {
		return e.PrimaryKey, nil
	}
	for i := range e.Subkeys {
		if match(e.Subkeys[i].PublicKey) {
			return e.Subkeys[i].PublicKey, &e.Subkeys[i]
		}
	}
	return nil, nil
}

// keyProblem explains why go-crypto refused a cryptographically good
// signature (err is ErrKeyRevoked, ErrKeyExpired, ErrSignatureExpired or a
// critical-notation error) and picks the matching sentinel.
func keyProblem(e *openpgp.Entity, sig *packet.Signature, now time.Time, err error) (error, string) {
	name := newSigner(e, sig).String()
	pk, sub := signingKeyAndBinding(e, sig)
	primarySig, primaryID := e.PrimarySelfSignature()
	switch {
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		if r := activeRevocation(e.Revocations, now); r != nil {
			return ErrKeyRevoked, "primary key of " + name + " was revoked" + revocationDetail(r)
		}
		if sub != nil {
			if r := activeRevocation(sub.Revocations, now); r != nil {
				return ErrKeyRevoked, "signing subkey of " + name + " was revoked" + revocationDetail(r)
			}
		}
		if primaryID != nil {
			if r := activeRevocation(primaryID.Revocations, now); r != nil {
				return ErrKeyRevoked, fmt.Sprintf("user id %q of %s was revoked%s", oneLine(primaryID.Name), name, revocationDetail(r))
			}
		}
		return ErrKeyRevoked, name
	case errors.Is(err, pgperrors.ErrKeyExpired):
		if e.PrimaryKey.CreationTime.After(now) {
			return ErrNotYetValid, fmt.Sprintf("primary key of %s created %s, after the current time %s", name, stamp(e.PrimaryKey.CreationTime), stamp(now))
		}
		if t, ok := keyExpiry(e.PrimaryKey, primarySig); ok && now.After(t) {
			return ErrKeyExpired, fmt.Sprintf("primary key of %s expired %s", name, stamp(t))
		}
		if sub != nil {
			if pk.CreationTime.After(now) {
				return ErrNotYetValid, fmt.Sprintf("signing subkey of %s created %s, after the current time %s", name, stamp(pk.CreationTime), stamp(now))
			}
			if t, ok := keyExpiry(pk, sub.Sig); ok && now.After(t) {
				return ErrKeyExpired, fmt.Sprintf("signing subkey of %s expired %s", name, stamp(t))
			}
		}
		return ErrKeyExpired, name
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		type labeled struct {
			what string
			s    *packet.Signature
		}
		sigs := []labeled{{"signature", sig}, {"self-signature", primarySig}}
		if sub != nil && sub.Sig != nil {
			sigs = append(sigs, labeled{"subkey binding signature", sub.Sig}, labeled{"subkey back-signature", sub.Sig.EmbeddedSignature})
		}
		for _, c := range sigs {
			if c.s == nil {
				continue
			}
			if c.s.CreationTime.After(now) {
				return ErrNotYetValid, fmt.Sprintf("%s by %s created %s, after the current time %s", c.what, name, stamp(c.s.CreationTime), stamp(now))
			}
			if c.s.SigLifetimeSecs != nil && *c.s.SigLifetimeSecs != 0 {
				t := c.s.CreationTime.Add(time.Duration(*c.s.SigLifetimeSecs) * time.Second)
				if now.After(t) {
					return ErrSignatureExpired, fmt.Sprintf("%s by %s expired %s", c.what, name, stamp(t))
				}
			}
		}
		return ErrSignatureExpired, "signature by " + name
	}
	return ErrBadSignature, fmt.Sprintf("signature by %s: %v", name, err)
}

func activeRevocation(revs []*packet.Signature, now time.Time) *packet.Signature {
	for _, r := range revs {
		if r.RevocationReason != nil && *r.RevocationReason == packet.KeyCompromised {
			return r
		}
		if !r.SigExpired(now) {
			return r
		}
	}
	return nil
}

func revocationDetail(r *packet.Signature) string {
	msg := " on " + stamp(r.CreationTime)
	reason := ""
	if r.RevocationReason != nil {
		switch *r.RevocationReason {
		case packet.KeySuperseded:
			reason = "key superseded"
		case packet.KeyCompromised:
			reason = "key compromised"
		case packet.KeyRetired:
			reason = "key retired"
		case packet.UserIDNotValid:
			reason = "user id no longer valid"
		}
	}
	if t := oneLine(r.RevocationReasonText); t != "" {
		if reason != "" {
			reason += ": "
		}
		reason += t
	}
	if reason != "" {
		msg += " (" + reason + ")"
	}
	return msg
}

func keyExpiry(pk *packet.PublicKey, selfSig *packet.Signature) (time.Time, bool) {
	if selfSig == nil || selfSig.KeyLifetimeSecs == nil || *selfSig.KeyLifetimeSecs == 0 {
		return time.Time{}, false
	}
	return pk.CreationTime.Add(time.Duration(*selfSig.KeyLifetimeSecs) * time.Second), true
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// oneLine makes untrusted text (user ids, revocation reasons) safe for a
// one-line message: invalid UTF-8 is replaced and control characters are
// escaped.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
