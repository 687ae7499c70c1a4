// Package source opens what bmap reads, by the name a user gives: an image,
// a bmap or a signature at a local path, "-" for standard input, or an
// http://, https://, ftp:// or ssh:// URL.
//
// A Source is a stream with a name and, when known, a size. What else it
// offers says how it may be read:
//
//	*File         a local regular file: io.ReaderAt and io.Seeker, so a raw
//	              image's holes are skipped by seeking and its ranges read
//	              side by side
//	io.Seeker     a remote file that can be read from any offset: an HTTP
//	              server that honours Range, an FTP server (REST). A seek
//	              costs nothing until the next Read.
//	Prefetcher    told the byte ranges that will be read (a raw image's
//	              mapped ranges, or the rest of a compressed one), it fetches
//	              them ahead of the reader: near ranges coalesced, several
//	              Range requests in flight, within a fixed memory budget
//	Transferer    counts what went over the network
//
// Anything else (a pipe, ssh, an HTTP server without Range) is read once,
// in order.
//
// # Remote files
//
// A transfer that fails, ends early or stalls (no byte for
// NetOptions.StallTimeout) is resumed where it stopped: HTTP with Range and
// If-Range (the first response's strong ETag, else its Last-Modified), FTP
// with REST, ssh with "tail -c +N". Failures in a row are bounded
// (NetOptions.Retries) and spaced (NetOptions.Backoff, doubling); any byte
// received starts the count again. A file that changed meanwhile (another
// validator, size or modification time; a 200 where a 206 was due) stops
// the transfer with ErrChanged, and nothing of the new version is returned:
// two versions are never mixed. A server without validators cannot tell;
// the bmap's checksums and the codecs' CRCs still catch a mix.
//
// HTTP: a GET of the first byte (Range: bytes=0-0) opens a file, giving its
// size, validator and whether Range works (it also works where HEAD is
// refused, as S3 presigned URLs refuse it); Exists asks HEAD, then GET where
// HEAD is refused (403, 405, 501). 404 and 410 are ErrNotFound, never
// retried; 408, 429 and 5xx are retried. Credentials come from the URL
// (user:password@) or else ~/.netrc ($NETRC), and are sent, with
// Opener.Header, to the origin only: a redirect to another host, port or
// scheme gets neither. Proxies come from HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY; certificates are checked against the system's trust store
// (SSL_CERT_FILE and SSL_CERT_DIR honoured), never skipped.
//
// ssh runs the system's ssh program, so ~/.ssh/config, agents and
// known_hosts apply; host keys are checked and ssh never prompts
// (BatchMode). FTP uses github.com/jlaffaye/ftp, logging in with the URL's
// credentials, else ~/.netrc's, else anonymously.
//
// # Names and secrets
//
// Names are resolved here and only here, so that the layers above (package
// job) treat every kind of source alike: discovery of a bmap beside an
// image (BmapCandidates, Sibling, Exists) and reading small files whole
// (ReadAll) go through the same Opener as the image. For a URL, discovery
// works on its path and keeps its query, as bmaptool 3.9 does; PathOf
// gives the path that names a format when the content does not.
//
// Messages and errors show names through Redact: no user name or
// password, and "***" for every query value that may be a secret (a
// presigned URL's signature, a token). Header values and .netrc passwords
// never appear. Secrets lists what a program printing other libraries'
// text should scrub as a last guard.
package source
