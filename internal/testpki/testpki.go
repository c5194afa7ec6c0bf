// Package testpki is a test certificate authority: a CA, a server
// certificate for 127.0.0.1 and client certificates, written as PEM files
// to a test's temporary directory. Tests of TLS and mTLS use it; nothing
// else does.
package testpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a CA with a server certificate for 127.0.0.1.
type PKI struct {
	Dir      string // the files' directory
	CertFile string // the server certificate, then the CA's (PEM)
	KeyFile  string // the server key (PEM)
	CAFile   string // the CA certificate (PEM)

	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

// New makes a CA and its server certificate in t.TempDir().
func New(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir(), serial: 1}
	var err error
	if p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "arcgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.CAFile = WritePEM(t, p.Dir, "ca.pem", "CERTIFICATE", der)
	srvDER, srvKey := p.issue(t, pkix.Name{CommonName: "arcgate"}, x509.ExtKeyUsageServerAuth)
	p.CertFile = WritePEM(t, p.Dir, "server.pem", "CERTIFICATE", srvDER, der)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	p.KeyFile = WritePEM(t, p.Dir, "server-key.pem", "EC PRIVATE KEY", keyDER)
	return p
}

// issue signs a certificate for subject (with IP SAN 127.0.0.1).
func (p *PKI) issue(t testing.TB, subject pkix.Name, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// ClientCert returns a client certificate for subject, signed by the CA.
func (p *PKI) ClientCert(t testing.TB, subject pkix.Name) tls.Certificate {
	t.Helper()
	der, key := p.issue(t, subject, x509.ExtKeyUsageClientAuth)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ClientTLS returns a client configuration trusting the CA, presenting
// cert when it is not nil.
func (p *PKI) ClientTLS(cert *tls.Certificate) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// WritePEM writes DER blocks of type typ to the file name in dir.
func WritePEM(t testing.TB, dir, name, typ string, ders ...[]byte) string {
	t.Helper()
	var buf bytes.Buffer
	for _, der := range ders {
		if err := pem.Encode(&buf, &pem.Block{Type: typ, Bytes: der}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
