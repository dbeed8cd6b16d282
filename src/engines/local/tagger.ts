// The local engine's launcher, a small Perl program (perl is on every Debian and macOS
// host, the Docker image included). It runs the command with stdout and stderr connected to
// two Unix datagram sockets that send into ONE receiving socket: the kernel queues every
// write of either stream in the order it was made, and each datagram says which socket sent
// it. So the log keeps the exact order the program wrote stdout and stderr in (two pipes or
// two files cannot: a reader cannot tell which of two writes came first).
// Lines go to `output` as records "<O|E><n|p><text>\n": n = the line ended in a newline,
// p = it did not (the last line of a stream written without one, or a 64 KiB piece of a
// longer line). It exits with the command's exit code (128 + signal when killed).
// Arguments: <run directory> <shell> <command>; the command runs in <run directory>/work.
// Limits: a single write larger than 1 MiB fails (EMSGSIZE; cat and most programs write at
// most 128 KiB at a time), and output written by a background process after the command
// exits is not collected.
//
// It starts for every run, so it loads no module on Linux: Socket and POSIX cost about 20 ms
// of CPU a start (more than the rest of a run of true), and strict/warnings a few more.
// The Linux socket constants and sockaddr_un layout are written out; elsewhere (macOS)
// Socket is loaded. Wait status and dup2 use Perl builtins.
export const LAUNCHER = String.raw`
my ($dir, $shell, $command) = @ARGV;
my ($AF_UNIX, $SOCK_DGRAM, $SOL_SOCKET, $SO_SNDBUF, $SO_RCVBUF, $addr, $path_of);
if ($^O eq 'linux') {
  ($AF_UNIX, $SOCK_DGRAM, $SOL_SOCKET, $SO_SNDBUF, $SO_RCVBUF) = (1, 2, 1, 7, 8);
  $addr = sub { pack('S', 1) . $_[0] . "\0" };
  $path_of = sub { my $p = substr($_[0] // '', 2); $p =~ s/\0.*//s; $p };
} else {
  require Socket;
  ($AF_UNIX, $SOCK_DGRAM, $SOL_SOCKET, $SO_SNDBUF, $SO_RCVBUF) = (Socket::PF_UNIX(), Socket::SOCK_DGRAM(), Socket::SOL_SOCKET(), Socket::SO_SNDBUF(), Socket::SO_RCVBUF());
  $addr = \&Socket::pack_sockaddr_un;
  $path_of = sub { (Socket::unpack_sockaddr_un($_[0]))[0] };
}
$SIG{TERM} = 'IGNORE';
# Socket paths are short relative names: an absolute run directory can pass the 108-byte limit.
chdir $dir or die "chdir $dir: $!";
my $sink = 'sink.sock';
unlink $sink, 'stdout.sock', 'stderr.sock';
socket(my $rx, $AF_UNIX, $SOCK_DGRAM, 0) or die "socket: $!";
bind($rx, $addr->($sink)) or die "bind: $!";
setsockopt($rx, $SOL_SOCKET, $SO_RCVBUF, 4 * 1024 * 1024);
my %tag;
my @tx;
for my $t ('O', 'E') {
  my $path = $t eq 'O' ? 'stdout.sock' : 'stderr.sock';
  socket(my $s, $AF_UNIX, $SOCK_DGRAM, 0) or die "socket: $!";
  bind($s, $addr->($path)) or die "bind: $!";
  connect($s, $addr->($sink)) or die "connect: $!";
  setsockopt($s, $SOL_SOCKET, $SO_SNDBUF, 1024 * 1024);
  $tag{$path} = $t;
  push @tx, $s;
}
open(my $out, '>>', 'output') or die "open output: $!";
binmode $out;
# A handler (not the default) makes the command's exit interrupt the select below, so the
# end is seen at once instead of at the next 0.2 s timeout. exec resets it in the child.
$SIG{CHLD} = sub {};
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
  $SIG{TERM} = 'DEFAULT';
  open(STDOUT, '>&', $tx[0]) or die;
  open(STDERR, '>&', $tx[1]) or die;
  close $rx;
  chdir 'work';
  exec($shell, '-c', $command);
  exit 127;
}
close $_ for @tx;
my %buf = (O => '', E => '');
my $status;
for (;;) {
  # Looked at before every wait too: the exit may come while a datagram is being handled.
  if (!defined $status) { my $done = waitpid($pid, 1); $status = $? if $done == $pid; } # 1: WNOHANG
  my $rin = '';
  vec($rin, fileno($rx), 1) = 1;
  my $ready = select(my $rout = $rin, undef, undef, defined $status ? 0.05 : 0.2);
  if ($ready > 0) {
    my $from = recv($rx, my $data, 1024 * 1024, 0);
    next unless defined $from;
    my $t = $tag{$path_of->($from)} // 'O';
    $buf{$t} .= $data;
    my $w = '';
    while ((my $i = index($buf{$t}, "\n")) >= 0) { $w .= $t . 'n' . substr($buf{$t}, 0, $i) . "\n"; substr($buf{$t}, 0, $i + 1) = ''; }
    while (length($buf{$t}) >= 65536) { $w .= $t . 'p' . substr($buf{$t}, 0, 65536) . "\n"; substr($buf{$t}, 0, 65536) = ''; }
    syswrite($out, $w) if length $w;
    next;
  }
  last if defined $status;
}
for my $t ('O', 'E') { syswrite($out, $t . 'p' . $buf{$t} . "\n") if length $buf{$t}; }
unlink $sink, 'stdout.sock', 'stderr.sock';
exit(($status & 127) ? 128 + ($status & 127) : $status >> 8);
`;
