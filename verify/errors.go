package verify

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by Detached and ClearSigned wraps
// exactly one of the signature sentinels, usually inside a *SignatureError
// that says which key and what failed; keyring loaders wrap ErrNoKeyring,
// ErrNoKeys or ErrMalformedKeyring.
var (
	// ErrNoSignature: the input holds no OpenPGP signature at all (an empty
	// file, a file that is not OpenPGP data, a key block instead of a
	// signature, a message that is not clearsigned).
	ErrNoSignature = errors.New("verify: no signature")
	// ErrMalformed: the input looks like a signature or a clearsigned
	// message but cannot be parsed (broken armor, missing end line, unknown
	// armor header, unsigned data after the signature).
	ErrMalformed = errors.New("verify: malformed signature data")
	// ErrBadSignature: the signature does not match the signed data, or it
	// cannot be checked (unsupported algorithm, unknown critical notation).
	ErrBadSignature = errors.New("verify: bad signature")
	// ErrUnknownSigner: no key in the keyring can have made the signature.
	ErrUnknownSigner = errors.New("verify: signer not in keyring")
	// ErrKeyExpired: the primary key or the signing subkey has expired.
	ErrKeyExpired = errors.New("verify: key expired")
	// ErrKeyRevoked: the primary key, the signing subkey or the primary user
	// id has been revoked.
	ErrKeyRevoked = errors.New("verify: key revoked")
	// ErrSignatureExpired: the signature, or a self-signature it relies
	// on, has passed its expiration time.
	ErrSignatureExpired = errors.New("verify: signature expired")
	// ErrNotYetValid: the signature or the key was made after Options.Now
	// (a wrong clock on one of the two machines).
	ErrNotYetValid = errors.New("verify: signature or key made in the future")
	// ErrWeakHash: the signature uses MD5, SHA-1 or RIPEMD-160.
	ErrWeakHash = errors.New("verify: weak hash algorithm")
	// ErrFingerprintMismatch: the signature is good but was made by a key
	// other than Options.Fingerprint.
	ErrFingerprintMismatch = errors.New("verify: fingerprint mismatch")
	// ErrInvalidFingerprint: Options.Fingerprint is not a full fingerprint.
	ErrInvalidFingerprint = errors.New("verify: invalid fingerprint")

	// ErrNoKeyring: no keyring file was found.
	ErrNoKeyring = errors.New("verify: no keyring")
	// ErrNoKeys: the keyring holds no usable OpenPGP public key.
	ErrNoKeys = errors.New("verify: no usable keys in keyring")
	// ErrMalformedKeyring: the keyring file is damaged; see *KeyringError.
	ErrMalformedKeyring = errors.New("verify: malformed keyring")
)

// SignatureError describes a refused signature. errors.Is(err, Err) holds,
// and so does errors.Is(err, Cause) when Cause is set.
type SignatureError struct {
	Err    error   // one of the signature sentinels above
	KeyID  string  // key id named by the signature (16 upper-case hex digits), if known
	Signer *Signer // the key that made the signature; nil unless the signature verified
	Detail string  // what exactly failed, one line
	Cause  error   // the underlying go-crypto error, if any
}

func (e *SignatureError) Error() string {
	msg := e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns Err and, when set, Cause.
func (e *SignatureError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// KeyringError reports a keyring file that cannot be parsed. It matches
// ErrMalformedKeyring with errors.Is.
type KeyringError struct {
	Path   string // file name as given to LoadKeyring or ParseKeyring
	Offset int64  // byte offset of the damaged part, or -1 if unknown
	Reason string
	Err    error // underlying error, if any
}

func (e *KeyringError) Error() string {
	msg := "verify: keyring " + e.Path
	if e.Offset >= 0 {
		msg += fmt.Sprintf(": byte %d", e.Offset)
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrMalformedKeyring.
func (e *KeyringError) Is(target error) bool { return target == ErrMalformedKeyring }

// Unwrap returns the underlying error.
func (e *KeyringError) Unwrap() error { return e.Err }
