package verify_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/bmap-tools/bmap/verify"
)

func newKey(name, email string) *openpgp.Entity {
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		panic(err)
	}
	return e
}

// A detached signature (image.bmap.asc or image.bmap.sig) checked against a
// keyring. The CLI would get the keyring from LoadKeyring(--keyring) or
// DefaultKeyring().
func ExampleDetached() {
	alice := newKey("Alice", "alice@example.com")
	bmapFile := []byte("<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n</bmap>\n")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, alice, bytes.NewReader(bmapFile), nil); err != nil {
		panic(err)
	}

	kr := verify.NewKeyring(openpgp.EntityList{alice})
	signer, err := verify.Detached(kr, bmapFile, sig.Bytes(), verify.Options{})
	fmt.Println(signer.UserID, err)

	bmapFile[0] = ' ' // tampered
	_, err = verify.Detached(kr, bmapFile, sig.Bytes(), verify.Options{})
	fmt.Println(errors.Is(err, verify.ErrBadSignature))
	// Output:
	// Alice <alice@example.com> <nil>
	// true
}

// A clearsigned bmap: the verified text replaces the file's content, so the
// bmap's own checksum is computed over the same bytes gpg would print.
func ExampleClearSigned() {
	alice, mallory := newKey("Alice", "alice@example.com"), newKey("Mallory", "mallory@example.com")
	var msg bytes.Buffer
	w, err := clearsign.Encode(&msg, mallory.PrivateKey, nil)
	if err != nil {
		panic(err)
	}
	w.Write([]byte("<bmap version=\"2.0\">\n</bmap>"))
	w.Close()

	data := msg.Bytes()
	if verify.IsClearSigned(data) {
		kr := verify.NewKeyring(openpgp.EntityList{alice})
		_, _, err := verify.ClearSigned(kr, data, verify.Options{})
		fmt.Println(errors.Is(err, verify.ErrUnknownSigner))

		text, err := verify.ClearSignedText(data) // --no-sig-verify
		fmt.Printf("%q %v\n", text, err)
	}
	// Output:
	// true
	// "<bmap version=\"2.0\">\n</bmap>\n" <nil>
}
