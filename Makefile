# Thin wrapper for muscle memory; the real build is CMake (see README).
.PHONY: run test build bench fuzz clean
run:
	scripts/run.sh
test:
	scripts/test.sh
build:
	cmake --preset dev && cmake --build --preset dev -j
bench:
	scripts/bench.sh
clean:
	rm -rf build
