package bmap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// smallSeeds are short bmaps that the fuzzer can mutate into many valid
// ones: most of them carry no file checksum, which nearly every mutation
// would break.
var smallSeeds = []string{
	`<bmap version="1.0"><ImageSize>10000</ImageSize><BlockSize>4096</BlockSize><BlocksCount>3</BlocksCount>` +
		`<BlockMap><Range>0-1</Range><Range>2</Range></BlockMap><MappedBlocksCount>3</MappedBlocksCount></bmap>`,
	"<?xml version=\"1.0\" ?>\n<bmap version=\"1.2\">\n <ImageSize> 1 </ImageSize>\n <BlockSize> 512 </BlockSize>\n" +
		" <BlocksCount> 1 </BlocksCount>\n <BlockMap>\n  <Range sha1=\"x\"> 0 </Range>\n </BlockMap>\n" +
		" <MappedBlocksCount> 1 </MappedBlocksCount>\n</bmap>\n",
	`<bmap version="1.1"><ImageSize>8192</ImageSize><BlockSize>4096</BlockSize><BlocksCount>2</BlocksCount>` +
		`<MappedBlocksCount>0</MappedBlocksCount><BlockMap/></bmap>`,
	`<bmap version="2.0"><ImageSize>1</ImageSize><BlockSize>1</BlockSize><BlocksCount>1</BlocksCount>` +
		`<MappedBlocksCount>1</MappedBlocksCount><ChecksumType>sha256</ChecksumType>` +
		`<BmapFileChecksum>0000000000000000000000000000000000000000000000000000000000000000</BmapFileChecksum>` +
		`<BlockMap><Range chksum="6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d">0</Range></BlockMap></bmap>`,
	`<bmap version="3.0"/>`,
	`<bmap version="2"/>`,
	`<bmap/>`,
	`<html/>`,
	"",
	"\ufeff<bmap version=\"1.0\"/>",
}

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		data, err := os.ReadFile(filepath.Join(testdataDir, fx.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])                                               // truncated
		f.Add(bytes.Replace(data, []byte("1535-1536"), []byte("1535-1537"), 1)) // broken file checksum or range
	}
	for _, c := range badCases {
		if c.base == "" {
			f.Add([]byte(c.data))
		}
	}
	for _, s := range smallSeeds {
		f.Add([]byte(s))
	}
	// The small seeds with their file checksum made right.
	f.Add(resum([]byte(smallSeeds[3])))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseBytes(data)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseBytes returned a map and error %v", err)
			}
			return
		}
		if err := checkInvariants(m); err != nil {
			t.Fatalf("ParseBytes returned a map that breaks its invariants: %v\n%+v", err, m)
		}
		enc, err := m.MarshalText()
		if err != nil {
			t.Fatalf("Encode(Parse(data)): %v", err)
		}
		m2, err := ParseBytes(enc)
		if err != nil {
			t.Fatalf("Parse(Encode(Parse(data))): %v\n%s", err, enc)
		}
		if m2.ImageSize != m.ImageSize || m2.BlockSize != m.BlockSize || m2.BlocksCount != m.BlocksCount ||
			m2.MappedBlocksCount != m.MappedBlocksCount || len(m2.Ranges) != len(m.Ranges) {
			t.Fatalf("Parse(Encode(m)) = %+v\nm = %+v", m2, m)
		}
		for i, r := range m.Ranges {
			r2 := m2.Ranges[i]
			if r2.First != r.First || r2.Last != r.Last || !bytes.Equal(r2.Checksum, r.Checksum) {
				t.Fatalf("range %d: Parse(Encode(m)) has %+v, m has %+v", i, r2, r)
			}
		}
		if m.ChecksumType != "" && m2.ChecksumType != m.ChecksumType {
			t.Fatalf("ChecksumType %q became %q", m.ChecksumType, m2.ChecksumType)
		}
		// Encoding is a fixed point after one round.
		if enc2, err := m2.MarshalText(); err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("Encode(Parse(Encode(m))) differs from Encode(m) (err %v)", err)
		}
	})
}
