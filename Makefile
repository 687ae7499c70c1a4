# make release: builds everything a release publishes into dist/:
#
#   bmap_VERSION_linux_{amd64,386,armv6,armv7,arm64,riscv64}, bmap_VERSION_darwin_{amd64,arm64}
#       the program, one static binary per platform (CGO_ENABLED=0);
#   bmap_VERSION_{amd64,i386,armhf,arm64}.deb
#       Debian packages: the binary, its man page and bash, zsh and fish completions;
#   bmap-bmaptool_VERSION_all.deb
#       installs bmap as bmaptool and replaces Debian's bmap-tools;
#   SHA256SUMS
#       the SHA-256 of each of them (sha256sum -c SHA256SUMS).
#
# make release-check checks dist/ as a user would (packaging/check-release.sh).
#
# The release is reproducible: the same source, VERSION, SOURCE_DATE_EPOCH
# and Go give the same bytes, wherever and whenever it is built. So:
# -trimpath (no build paths), -buildvcs=false (the binary depends on the
# source, not on the checkout: a tree without .git, or with an untracked
# file, builds the same bytes; VERSION names the commit instead), every
# GOARCH variable set, GOFLAGS replaced, and files in the packages dated
# SOURCE_DATE_EPOCH (the last commit's time), with fixed modes.
#
# VERSION comes from git (packaging/version.sh: 1.2.0 on the tag v1.2.0);
# give it to build from a tree without .git: make release VERSION=1.2.0
# SOURCE_DATE_EPOCH=1767225600.
#
# The binaries build with any Go from go.mod's go line on. The packager,
# nfpm, is a Go tool dependency of its own module, tools/go.mod, so that
# go.mod keeps its low go line and none of nfpm's dependencies; it needs the
# Go of tools/go.mod's go line.

ifeq ($(origin VERSION),undefined)
VERSION := $(shell packaging/version.sh)
endif
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct)
endif
ifeq ($(VERSION),)
$(error no VERSION: give one, as in make release VERSION=1.2.0)
endif
ifeq ($(SOURCE_DATE_EPOCH),)
$(error no SOURCE_DATE_EPOCH: give one, as in make release SOURCE_DATE_EPOCH=1767225600)
endif

GO ?= go
DIST ?= dist
# Intermediate files: the host's binary, the man page, the completions.
BUILD ?= .build
MAINTAINER ?= The bmap developers <https://github.com/bmap-tools/bmap>

# An empty GOFLAGS would not override one set with go env -w.
export GOFLAGS := -mod=readonly
export CGO_ENABLED := 0
export SOURCE_DATE_EPOCH

GOBUILD = $(GO) build -trimpath -buildvcs=false -ldflags='-s -w -X main.version=$(VERSION)'
NFPM = $(GO) tool -modfile=tools/go.mod nfpm

# The platforms, and the go environment of each.
PLATFORMS := linux_amd64 linux_386 linux_armv6 linux_armv7 linux_arm64 linux_riscv64 darwin_amd64 darwin_arm64
goenv_linux_amd64 := GOOS=linux GOARCH=amd64 GOAMD64=v1
goenv_linux_386 := GOOS=linux GOARCH=386 GO386=sse2
goenv_linux_armv6 := GOOS=linux GOARCH=arm GOARM=6
goenv_linux_armv7 := GOOS=linux GOARCH=arm GOARM=7
goenv_linux_arm64 := GOOS=linux GOARCH=arm64 GOARM64=v8.0
goenv_linux_riscv64 := GOOS=linux GOARCH=riscv64 GORISCV64=rva20u64
goenv_darwin_amd64 := GOOS=darwin GOARCH=amd64 GOAMD64=v1
goenv_darwin_arm64 := GOOS=darwin GOARCH=arm64 GOARM64=v8.0

# The Debian architectures, and the binary each package carries. armhf
# takes the ARMv6 binary: Raspberry Pi OS calls ARMv6 armhf, and an ARMv7
# binary dies with SIGILL on a Pi Zero or Pi 1; Debian's ARMv7 boards run it
# too.
DEB_ARCHS := amd64 i386 armhf arm64
debbin_amd64 := linux_amd64
debbin_i386 := linux_386
debbin_armhf := linux_armv6
debbin_arm64 := linux_arm64

BINARIES := $(foreach p,$(PLATFORMS),$(DIST)/bmap_$(VERSION)_$(p))
DEBS := $(foreach a,$(DEB_ARCHS),$(DIST)/bmap_$(VERSION)_$(a).deb) $(DIST)/bmap-bmaptool_$(VERSION)_all.deb
DOCS := $(BUILD)/bmap.1.gz $(foreach p,bmap bmaptool,$(BUILD)/completions/$(p).bash $(BUILD)/completions/_$(p) $(BUILD)/completions/$(p).fish)

.PHONY: release release-check artifacts clean FORCE
.SECONDEXPANSION:

# A release starts from nothing, so that dist/ holds this release alone.
release:
	rm -rf $(DIST) $(BUILD)
	$(MAKE) --no-print-directory artifacts VERSION='$(VERSION)' SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)'

artifacts: $(DIST)/SHA256SUMS

release-check:
	packaging/check-release.sh $(DIST) '$(VERSION)' '$(SOURCE_DATE_EPOCH)'

$(DIST)/SHA256SUMS: $(BINARIES) $(DEBS)
	cd $(DIST) && sha256sum $(notdir $^) >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS
	@cat $@

# The Go build cache makes rebuilding what did not change cheap: always ask go.
$(BINARIES): $(DIST)/bmap_$(VERSION)_%: FORCE
	@mkdir -p $(@D)
	$(goenv_$*) $(GOBUILD) -o $@ ./cmd/bmap

$(BUILD)/bmap: FORCE
	@mkdir -p $(@D)
	$(GOBUILD) -o $@ ./cmd/bmap
	ln -sf bmap $(BUILD)/bmaptool

$(BUILD)/bmap.1.gz: docs/bmap.1
	@mkdir -p $(@D)
	gzip -9n <$< >$@

$(BUILD)/completions/%.bash: $(BUILD)/bmap
	@mkdir -p $(@D)
	$(BUILD)/$* completion bash >$@

$(BUILD)/completions/_%: $(BUILD)/bmap
	@mkdir -p $(@D)
	$(BUILD)/$* completion zsh >$@

$(BUILD)/completions/%.fish: $(BUILD)/bmap
	@mkdir -p $(@D)
	$(BUILD)/$* completion fish >$@

$(DIST)/bmap_$(VERSION)_%.deb: $(DIST)/bmap_$(VERSION)_$$(debbin_$$*) $(DOCS) packaging/bmap.yaml
	DEB_ARCH=$* BINARY=$< BUILD=$(BUILD) VERSION='$(VERSION)' MAINTAINER='$(MAINTAINER)' \
		$(NFPM) package --config packaging/bmap.yaml --packager deb --target $@

$(DIST)/bmap-bmaptool_$(VERSION)_all.deb: $(DOCS) packaging/bmap-bmaptool.yaml
	BUILD=$(BUILD) VERSION='$(VERSION)' MAINTAINER='$(MAINTAINER)' \
		$(NFPM) package --config packaging/bmap-bmaptool.yaml --packager deb --target $@

clean:
	rm -rf $(DIST) $(BUILD)
