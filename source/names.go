package source

import (
	"path"
)

// Sibling returns the name of the file beside name with suffix appended
// to its path, such as its bmap (".bmap") or a bmap's signature (".asc").
// For a URL the suffix goes at the end of the path, before the query,
// which is kept ("https://h/a.img?job=x" → "https://h/a.img.bmap?job=x"),
// as bmaptool 3.9 does.
func Sibling(name, suffix string) string {
	return withPath(name, func(p string) string { return p + suffix })
}

// BmapCandidates lists where bmaptool looks for the bmap of an image, in
// order: the image's name + ".bmap", then with one extension after another
// removed ("a.img.gz" → "a.img.gz.bmap", "a.img.bmap", "a.bmap"). For a
// URL, the extensions are those of its path; its query is kept.
func BmapCandidates(image string) []string {
	if image == Stdin {
		return nil
	}
	var out []string
	base := image
	for {
		out = append(out, Sibling(base, ".bmap"))
		stripped := withPath(base, func(p string) string { q, _ := splitExt(p); return q })
		if stripped == base {
			return out
		}
		base = stripped
	}
}

// Base returns the last element of name's path, for messages
// ("image.wic.xz"); a URL's query is left out.
func Base(name string) string {
	if name == Stdin {
		return "stdin"
	}
	return path.Base(PathOf(name))
}
