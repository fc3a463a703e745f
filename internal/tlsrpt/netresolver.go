package tlsrpt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// dialTimeout bounds the connection to the DNS server.
const dialTimeout = 5 * time.Second

// NetResolver looks up TXT records through Go's resolver, asking server
// ("host:port") when it is not empty, else the system's name servers. It
// stands in for the project's one DNS client (internal/resolve) until
// that exists: any TXTResolver can replace it.
type NetResolver struct {
	r *net.Resolver
}

// NewNetResolver returns a NetResolver asking server.
func NewNetResolver(server string) *NetResolver {
	r := &net.Resolver{PreferGo: true}
	if server != "" {
		d := net.Dialer{Timeout: dialTimeout}
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		}
	}
	return &NetResolver{r: r}
}

// LookupTXT implements TXTResolver: a name without TXT records is no
// error.
func (n *NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := n.r.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: TXT %s: %w", name, err)
	}
	return txt, nil
}
