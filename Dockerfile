# Builds the one wasmflow binary into a small image. Pure Go (no CGO).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/wasmflow ./cmd/wasmflow && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wasmflow /usr/local/bin/wasmflow
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/wasmflow"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
