package blockdev

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	in := `22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
36 22 8:17 / /media/my\040card rw,nosuid shared:30 - vfat /dev/sdb1 rw,uid=1000
40 22 0:45 / /data rw shared:31 master:2 - btrfs /dev/sdc rw,space_cache
`
	got, err := parseMountinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mount{
		{dev: "8:2", point: "/", fstype: "ext4", source: "/dev/sda2"},
		{dev: "8:17", point: "/media/my card", fstype: "vfat", source: "/dev/sdb1"},
		{dev: "0:45", point: "/data", fstype: "btrfs", source: "/dev/sdc"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountinfo = %+v, want %+v", got, want)
	}
	if _, err := parseMountinfo(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("parseMountinfo accepted a malformed line")
	}
}

func TestParseSwaps(t *testing.T) {
	in := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sdb2                               partition\t2097148\t\t0\t\t-2\n/swap\\040file file 1024 0 -3\n"
	got, err := parseSwaps(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/dev/sdb2", "/swap file"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parseSwaps = %q, want %q", got, want)
	}
}
