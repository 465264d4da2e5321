# Needle Router. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools/bin
PY    ?= /usr/bin/python3
export PATH := $(TOOLS):$(PATH)

# Pinned tool versions.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
BUF_VERSION                := v1.75.0
GRPCURL_VERSION            := v1.9.3
# Matches the grpc-gateway runtime in go.mod.
GRPC_GATEWAY_VERSION       := v2.30.0
GRPC_HEALTH_PROBE_VERSION  := v0.4.62
STATICCHECK_VERSION        := v0.8.2
PLAYWRIGHT_CORE_VERSION    := 1.65.1
# The helm CLI for installing the chart by hand (`make helm`; Debian does not package it, so it
# is built from its Go module, which takes long). The chart test needs no CLI: it runs helm's Go
# packages at the version in deploy/helm/test/go.mod, which its TestHelmPinnedOnce keeps equal to this.
HELM_VERSION               := v4.3.2

.PHONY: deps store-deps test-chart helm e2e-deps e2e help build test test-go test-fuzz test-noasm test-kernel-sets test-arm64 test-python lint proto check-proto check-asm asm run tools bench data train-smoke docker

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/router, bin/perception-stub, bin/needle
	$(GO) build -o bin/ ./cmd/...

run: build ## run the router with the shipped model (gRPC :50051, HTTP :8080)
	./bin/router --tools-dir examples/toolsets --data-dir .data

test: deps store-deps tools e2e-deps test-go test-fuzz test-chart test-noasm test-kernel-sets test-arm64 test-python ## all tests: Go with -race (browser test and etcd replicas included), the fuzz targets for a few seconds each, the Helm chart, noasm kernels, each kernel set forced, arm64 under qemu, fixtures rechecked against PyTorch/SentencePiece, training smoke test

deps: ## install the Debian packages the Python side needs, when missing (needs root)
	@{ $(PY) -c 'import torch, numpy, sentencepiece' 2>/dev/null && test -e /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4; } || { \
	  echo "installing python3-torch, python3-numpy, python3-sentencepiece, libopenblas0-pthread"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread libtcmalloc-minimal4 >/dev/null; }

store-deps: ## Debian's etcd-server, the shared toolset store the replica tests start (scripts/dev-store.sh)
	@command -v etcd >/dev/null || { echo "installing etcd-server (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }

test-chart: ## helm lint + helm template of deploy/helm/needle-router (default and non-default values) through helm's Go packages, decoded strictly into k8s.io/api types and checked
	cd deploy/helm/test && $(GO) test -count=1 ./...

test-go: $(TOOLS)/grpcurl $(TOOLS)/grpc-health-probe
	NEEDLE_E2E_GRPCURL=$(TOOLS)/grpcurl NEEDLE_E2E_HEALTH_PROBE=$(TOOLS)/grpc-health-probe $(GO) test -race -count=1 ./...

# The fuzz targets of the edges users and dependencies feed: Route request bytes, tools JSON,
# tool schemas, cloud answers, the store file. Each runs FUZZTIME (corpora in testdata/fuzz/);
# minimising a new input is capped, so the time goes to new inputs. FUZZTIME counts inputs,
# not seconds: with a duration, Go 1.26's fuzz coordinator can report "context deadline
# exceeded" at the deadline when a busy machine's worker is mid-input (golang/go#75804, fixed
# in Go 1.27), failing CI with no crasher; a count has no deadline to race.
FUZZTIME ?= 3000x
FUZZ_TARGETS := internal/api:FuzzRouteRequestBytes internal/registry:FuzzParseTools internal/registry:FuzzParseSchema \
  internal/escalate:FuzzCloudAnswer internal/registry:FuzzStoreFile
test-fuzz: ## each fuzz target for FUZZTIME inputs (default 3000x)
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x ./$$pkg || exit 1; done

e2e-deps: ## Debian's chromium and playwright-core (npm) for the browser test; where they cannot be installed the test skips and says so
	@[ -x /usr/bin/chromium ] || { echo "installing chromium (Debian)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: the browser test will skip"; }
	@[ -d e2e/node_modules/playwright-core ] || { echo "installing playwright-core@$(PLAYWRIGHT_CORE_VERSION) (npm)"; \
	  (cd e2e && npm install --no-save --no-audit --no-fund --silent playwright-core@$(PLAYWRIGHT_CORE_VERSION)) || echo "playwright-core could not be installed: the browser test will skip"; }

e2e: e2e-deps ## the playground in headless chromium against the real router; screenshots in e2e/out/
	$(GO) test -count=1 -run TestPlaygroundInChromium -v ./cmd/router/

test-noasm: ## kernels and engine with the pure-Go twins
	$(GO) test -count=1 -tags noasm ./internal/kernels/... ./internal/needle/... ./internal/decode/...

KERNEL_SETS := generic avx2 avx512 avx512-vnni
test-kernel-sets: ## the engine's tests with each kernel set forced (NEEDLE_KERNELS); sets this CPU lacks are skipped
	@for s in $(KERNEL_SETS); do \
	  out=$$(NEEDLE_KERNELS=$$s $(GO) test -count=1 -run TestSetSelection -v ./internal/kernels/ 2>&1) || { echo "$$out"; exit 1; }; \
	  if echo "$$out" | grep -q "kernels $$s "; then \
	    echo "== NEEDLE_KERNELS=$$s"; NEEDLE_KERNELS=$$s $(GO) test -count=1 ./internal/kernels/... ./internal/needle/... ./internal/decode/... || exit 1; \
	  elif echo "$$out" | grep -q "NEEDLE_KERNELS=$$s ignored: kernel set $$s needs"; then \
	    echo "== NEEDLE_KERNELS=$$s: skipped, this CPU lacks the features of kernel set $$s"; \
	  else echo "$$out"; echo "NEEDLE_KERNELS=$$s was not followed, and not for lack of CPU features"; exit 1; fi; done

test-arm64: ## GOARCH=arm64 build, and kernels + engine tests under qemu-user (Debian qemu-user-static, installed when missing); skipped only where it cannot be installed
	GOARCH=arm64 $(GO) build ./...
	@command -v qemu-aarch64-static >/dev/null || command -v qemu-aarch64 >/dev/null || { echo "installing qemu-user-static"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null) || echo "qemu-user-static could not be installed"; }
	@q=$$(command -v qemu-aarch64-static || command -v qemu-aarch64); if [ -z "$$q" ]; then echo "test-arm64: SKIPPED, no qemu-aarch64(-static) found (apt-get install qemu-user-static)"; else \
	  GOARCH=arm64 $(GO) test -count=1 -exec $$q ./internal/kernels/... && \
	  GOARCH=arm64 $(GO) test -count=1 -exec $$q -run 'Parity|Format|Golden|Quant|Grammar|Tokeniz|Alloc|Ground' ./internal/needle/ ./internal/grammar/ ./internal/decode/; fi

asm: ## regenerate the kernels' assembly from internal/kernels/_asm (avo)
	cd internal/kernels/_asm && $(GO) run asm.go -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg kernels

check-asm: asm ## fail when the committed generated assembly is stale
	git diff --exit-code -- internal/kernels/kernels_amd64.s internal/kernels/kernels_amd64_stubs.go

test-python: ## golden fixtures and tokenizer cases are what PyTorch/SentencePiece produce; tiny training run loads in Go
	$(PY) train/golden.py --out internal/needle/testdata/golden --check
	$(PY) train/tools_render.py internal/toolspec/testdata/tools.json | cmp - internal/toolspec/testdata/tools.golden
	$(PY) train/answer_format.py --check --fixture internal/decode/testdata/format/cases.jsonl
	cd train && $(PY) test_train.py
	@for m in models/tokenizer.model:needle ../shared/fixtures/sentencepiece/san_needle_lm_8k.model:san_needle_lm_8k; do \
	  f=$${m%%:*}; n=$${m##*:}; [ -f $$f ] || continue; \
	  $(PY) train/tokcases.py $$f /tmp/tokcases.$$n.jsonl.gz && \
	  cmp <(zcat /tmp/tokcases.$$n.jsonl.gz) <(zcat internal/needle/testdata/tokenize/$$n.jsonl.gz) && echo "tokenizer cases for $$n are current" || exit 1; done
	bash train/smoke.sh

lint: $(TOOLS)/buf $(TOOLS)/staticcheck check-asm ## go vet + staticcheck + go mod tidy -diff + buf lint + gofmt + generated assembly fresh
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	$(GO) mod tidy -diff
	$(TOOLS)/buf lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

proto: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/protoc-gen-grpc-gateway ## regenerate gen/ from proto/
	$(TOOLS)/buf generate

check-proto: proto ## fail when the committed generated code is stale
	git diff --exit-code -- gen/

bench: build ## engine and kernel benchmarks
	./bin/needle bench
	$(GO) test -run '^$$' -bench . -benchtime 20x ./internal/kernels/

data: build ## 100k training rows and 1k held-out rows under data/
	mkdir -p data
	./bin/needle data -n 100000 -seed 11 -o data/train.jsonl
	./bin/needle data -n 1000 -seed 12 -split heldout -o data/heldout.jsonl

tools: $(TOOLS)/grpcurl $(TOOLS)/grpc-health-probe ## install the pinned Go tools the tests run into .tools/bin

helm: $(TOOLS)/helm ## the helm CLI at HELM_VERSION into .tools/bin, to install the chart by hand (a long build; no test needs it)

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(TOOLS)/protoc-gen-grpc-gateway:
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/grpc-health-probe:
	GOBIN=$(TOOLS) $(GO) install github.com/grpc-ecosystem/grpc-health-probe@$(GRPC_HEALTH_PROBE_VERSION)
$(TOOLS)/helm:
	GOBIN=$(TOOLS) $(GO) install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/grpcurl:
	GOBIN=$(TOOLS) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

docker: ## build the router image
	docker build -t needle-router .
