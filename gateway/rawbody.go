package gateway

import (
	"fmt"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
)

// rawUploadTypes are the request content types whose body is taken raw into
// a google.api.HttpBody request field (UpdateThumbnail), so that REST
// clients can PUT an image as it is:
//
//	curl -X PUT --data-binary @logo.png -H 'Content-Type: image/png' \
//	    localhost:8080/v1/services/SampleWorldCities.MapServer/itemInfo/thumbnail
//
// The server checks the bytes themselves (magic numbers, size); the header
// only selects the decoding.
var rawUploadTypes = []string{"image/png", "image/jpeg", "image/gif", "application/octet-stream"}

// maxRawUpload bounds what a raw body decoder reads; the server's own limit
// for thumbnails is lower and gives the precise error.
const maxRawUpload = 4 << 20

// rawBodyMarshaler decodes a raw request body into an HttpBody and leaves
// everything else, responses included, to the JSON marshaler it embeds:
// grpc-gateway marshals the response with the request's marshaler when the
// Accept header names no other.
type rawBodyMarshaler struct {
	runtime.Marshaler
	contentType string
}

// NewDecoder implements runtime.Marshaler.
func (m rawBodyMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		var dst **httpbody.HttpBody
		switch b := v.(type) {
		case **httpbody.HttpBody:
			dst = b
		case *httpbody.HttpBody:
			tmp := b
			dst = &tmp
		default:
			return fmt.Errorf("a %s body is accepted only by methods that take raw data (UpdateThumbnail); send JSON here", m.contentType)
		}
		data, err := io.ReadAll(io.LimitReader(r, maxRawUpload+1))
		if err != nil {
			return err
		}
		if len(data) > maxRawUpload {
			return fmt.Errorf("raw body larger than %d bytes", maxRawUpload)
		}
		if *dst == nil {
			*dst = &httpbody.HttpBody{}
		}
		(*dst).ContentType, (*dst).Data = m.contentType, data
		return nil
	})
}

// rawUploadOptions registers rawBodyMarshaler for every raw upload type.
func rawUploadOptions(json runtime.Marshaler) []runtime.ServeMuxOption {
	opts := make([]runtime.ServeMuxOption, 0, len(rawUploadTypes))
	for _, ct := range rawUploadTypes {
		opts = append(opts, runtime.WithMarshalerOption(ct, rawBodyMarshaler{Marshaler: json, contentType: ct}))
	}
	return opts
}
