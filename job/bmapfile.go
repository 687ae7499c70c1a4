package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/decompress"
	"github.com/bmap-tools/bmap/source"
	"github.com/bmap-tools/bmap/verify"
)

// Signature says how the bmap's OpenPGP signature is found and checked.
// The zero value checks a signature if there is one (clearsigned bmap, or
// BMAP.asc, BMAP.sig or BMAP.gpg beside it) against the user's GnuPG
// keyring, and accepts an unsigned bmap.
type Signature struct {
	// Path is a detached signature of the bmap; "" looks beside the bmap.
	Path string
	// Skip skips the check (--no-sig-verify). A clearsigned bmap's text is
	// still extracted.
	Skip bool
	// Keyring is a keyring file (armored, binary or a GnuPG keybox);
	// "" uses the GnuPG keyring ($GNUPGHOME or ~/.gnupg). Giving one
	// requires the bmap to be signed.
	Keyring string
	// Fingerprint accepts only a signature by this key (primary or signing
	// subkey). Giving one requires the bmap to be signed.
	Fingerprint string
}

// Check refuses options that contradict each other, as bmaptool does, and
// a fingerprint that cannot match any key.
func (s Signature) Check() error {
	switch {
	case s.Path != "" && s.Skip:
		return &OptionError{"--bmap-sig and --no-sig-verify cannot be used together", true}
	case s.Skip && s.Keyring != "":
		return &OptionError{"--no-sig-verify and --keyring cannot be used together", true}
	case s.Skip && s.Fingerprint != "":
		return &OptionError{"--no-sig-verify and --fingerprint cannot be used together", true}
	}
	if s.Fingerprint != "" {
		if _, err := verify.NormalizeFingerprint(s.Fingerprint); err != nil {
			return &OptionError{Msg: fmt.Sprintf("--fingerprint %q is not a full key fingerprint (40 or 64 hex digits; short key ids are refused)", s.Fingerprint)}
		}
	}
	return nil
}

// An OptionError is a request that cannot be run as given: options that
// contradict each other or a missing argument. A command line reports it
// as a usage error.
type OptionError struct {
	Msg string
	// Conflict: options that exclude each other. bmaptool checks those
	// after parsing and exits 1 (not 2) for them.
	Conflict bool
}

func (e *OptionError) Error() string { return e.Msg }

// ErrNoBmap is returned (wrapped) when no bmap was given and none was found
// beside the image.
var ErrNoBmap = errors.New("bmap file not found")

// findBmap returns the bmap to use for image: the one given, or the first
// candidate beside the image that exists.
func findBmap(ctx context.Context, op *source.Opener, log Logger, image, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	if image == source.Stdin {
		return "", fmt.Errorf("%w, please, use --nobmap option to flash without bmap (the image is read from standard input: give its bmap with --bmap)", ErrNoBmap)
	}
	candidates := source.BmapCandidates(image)
	for _, c := range candidates {
		ok, err := op.Exists(ctx, c)
		if err != nil {
			return "", fmt.Errorf("looking for the bmap at %s: %w", source.Redact(c), err)
		}
		if ok {
			log.Infof("discovered bmap file '%s'", source.Redact(c))
			return c, nil
		}
	}
	shown := make([]string, len(candidates))
	for i, c := range candidates {
		shown[i] = source.Redact(c)
	}
	return "", fmt.Errorf("%w, please, use --nobmap option to flash without bmap (looked for %s; give one with --bmap)",
		ErrNoBmap, strings.Join(shown, ", "))
}

// loadBmap reads the bmap at name (possibly compressed), checks its OpenPGP
// signature as sig says (clearsigned, or detached beside it) and parses it,
// which checks its own checksum. Nothing here touches a destination.
func loadBmap(ctx context.Context, op *source.Opener, log Logger, name string, sig Signature) (*bmap.Map, error) {
	shown := source.Redact(name)
	raw, err := op.ReadAll(ctx, name, bmap.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("cannot open bmap file '%s': %w", shown, err)
	}
	dec, err := decompress.NewReader(bytes.NewReader(raw), decompress.Options{Name: source.PathOf(name), ImageSize: -1})
	if err != nil {
		return nil, fmt.Errorf("bmap %s: %w", shown, err)
	}
	defer dec.Close()
	data, err := io.ReadAll(io.LimitReader(dec, bmap.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading bmap %s: %w", shown, err)
	}
	if data, err = checkSignature(ctx, op, log, name, raw, data, sig); err != nil {
		return nil, err
	}
	m, err := bmap.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("bmap %s: %w", shown, err)
	}
	return m, nil
}

// sigSuffixes are where a detached signature is looked for beside a bmap:
// bmaptool's .asc and .sig, and gpg's default .gpg.
var sigSuffixes = []string{".asc", ".sig", ".gpg"}

// checkSignature verifies the bmap's signature and returns the bmap text: a
// clearsigned bmap's plaintext, else data. raw is the file as stored: a
// detached signature may cover it or the decompressed data.
func checkSignature(ctx context.Context, op *source.Opener, log Logger, name string, raw, data []byte, sig Signature) ([]byte, error) {
	opts := verify.Options{Fingerprint: sig.Fingerprint}
	shown := source.Redact(name)
	if verify.IsClearSigned(data) {
		log.Infof("discovered inline signature")
		if sig.Skip {
			text, err := verify.ClearSignedText(data)
			if err != nil {
				return nil, fmt.Errorf("bmap %s: %w", shown, err)
			}
			log.Warnf("bmap file '%s' is signed, but its signature was not verified (--no-sig-verify)", shown)
			return text, nil
		}
		kr, err := loadKeyring(log, sig)
		if err != nil {
			return nil, err
		}
		text, signer, err := verify.ClearSigned(kr, data, opts)
		if err != nil {
			return nil, signatureError(shown, shown, err)
		}
		log.Infof("successfully verified bmap file signature of %s", signer)
		return text, nil
	}
	if sig.Skip {
		return data, nil
	}
	sigName := sig.Path
	if sigName == "" {
		for _, ext := range sigSuffixes {
			c := source.Sibling(name, ext)
			ok, err := op.Exists(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("looking for the bmap's signature at %s: %w", source.Redact(c), err)
			}
			if ok {
				sigName = c
				log.Infof("discovered signature file for bmap '%s'", source.Redact(sigName))
				break
			}
		}
	}
	if sigName == "" {
		tried := fmt.Sprintf("no clearsigned text in %s, no %s, %s or %s", shown,
			source.Redact(source.Sibling(name, sigSuffixes[0])), sigSuffixes[1], sigSuffixes[2])
		switch {
		case sig.Fingerprint != "":
			return nil, fmt.Errorf("no signature found but --fingerprint given (%s)", tried)
		case sig.Keyring != "":
			return nil, fmt.Errorf("no signature found but --keyring given (%s)", tried)
		}
		log.Debugf("bmap %s is not signed", shown)
		return data, nil
	}
	sigData, err := op.ReadAll(ctx, sigName, maxSignatureSize)
	if err != nil {
		return nil, fmt.Errorf("cannot open bmap signature file '%s': %w", source.Redact(sigName), err)
	}
	kr, err := loadKeyring(log, sig)
	if err != nil {
		return nil, err
	}
	signer, err := verify.Detached(kr, data, sigData, opts)
	if err != nil && !bytes.Equal(raw, data) {
		// A compressed bmap: the signature may cover the file as stored.
		if s, err2 := verify.Detached(kr, raw, sigData, opts); err2 == nil {
			signer, err = s, nil
		}
	}
	if err != nil {
		return nil, signatureError(shown, source.Redact(sigName), err)
	}
	log.Infof("successfully verified bmap file signature of %s", signer)
	return data, nil
}

// maxSignatureSize bounds a detached signature file: a signature is a few
// hundred bytes, a handful of them a few KiB.
const maxSignatureSize = 1 << 20

// signatureError words a refused signature as bmaptool does, so that its
// callers' checks keep working: "discovered a BAD GPG signature" when the
// signature does not match or no known key made it, "signature
// verification failed (fingerprint ...)" when a known key made it but it
// is not acceptable (expired, revoked, weak hash, another key than
// --fingerprint). Our reason follows on the same line.
func signatureError(bmapName, sigName string, err error) error {
	var se *verify.SignatureError
	errors.As(err, &se)
	switch {
	case errors.Is(err, verify.ErrBadSignature), errors.Is(err, verify.ErrUnknownSigner),
		errors.Is(err, verify.ErrMalformed), errors.Is(err, verify.ErrNoSignature):
		return fmt.Errorf("discovered a BAD GPG signature: %s (for bmap %s): %w", sigName, bmapName, err)
	}
	fpr := "unknown"
	if se != nil && se.Signer != nil {
		fpr = se.Signer.Fingerprint
	} else if se != nil && se.KeyID != "" {
		fpr = se.KeyID
	}
	return fmt.Errorf("signature verification failed (fingerprint %s): %s (for bmap %s): %w; either fix the problem or use --no-sig-verify to disable signature verification",
		fpr, sigName, bmapName, err)
}

// loadKeyring loads the keyring sig names, or the user's GnuPG keyring.
func loadKeyring(log Logger, sig Signature) (*verify.Keyring, error) {
	if sig.Keyring != "" {
		kr, err := verify.LoadKeyring(sig.Keyring)
		if err != nil {
			return nil, fmt.Errorf("cannot load --keyring: %w", err)
		}
		return kr, nil
	}
	kr, path, err := verify.DefaultKeyring()
	if err != nil {
		return nil, fmt.Errorf("the bmap is signed, but there is no keyring to check it with: %w (give one with --keyring, or skip the check with --no-sig-verify)", err)
	}
	log.Debugf("using the GnuPG keyring %s", path)
	return kr, nil
}
