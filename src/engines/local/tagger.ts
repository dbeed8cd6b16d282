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
export const LAUNCHER = String.raw`
use strict;
use warnings;
use Socket;
use POSIX ();
my ($dir, $shell, $command) = @ARGV;
$SIG{TERM} = 'IGNORE';
# Socket paths are short relative names: an absolute run directory can pass the 108-byte limit.
chdir $dir or die "chdir $dir: $!";
my $sink = 'sink.sock';
unlink $sink, 'stdout.sock', 'stderr.sock';
socket(my $rx, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($rx, pack_sockaddr_un($sink)) or die "bind: $!";
setsockopt($rx, SOL_SOCKET, SO_RCVBUF, 4 * 1024 * 1024);
my %tag;
my @tx;
for my $t ('O', 'E') {
  my $path = $t eq 'O' ? 'stdout.sock' : 'stderr.sock';
  socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
  bind($s, pack_sockaddr_un($path)) or die "bind: $!";
  connect($s, pack_sockaddr_un($sink)) or die "connect: $!";
  setsockopt($s, SOL_SOCKET, SO_SNDBUF, 1024 * 1024);
  $tag{$path} = $t;
  push @tx, $s;
}
open(my $out, '>>', 'output') or die "open output: $!";
binmode $out;
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
  $SIG{TERM} = 'DEFAULT';
  POSIX::dup2(fileno($tx[0]), 1) // die;
  POSIX::dup2(fileno($tx[1]), 2) // die;
  close $rx;
  chdir 'work';
  exec($shell, '-c', $command) or POSIX::_exit(127);
}
close $_ for @tx;
my %buf = (O => '', E => '');
my $status;
for (;;) {
  my $rin = '';
  vec($rin, fileno($rx), 1) = 1;
  my $ready = select(my $rout = $rin, undef, undef, defined $status ? 0.05 : 0.2);
  if ($ready > 0) {
    my $from = recv($rx, my $data, 1024 * 1024, 0);
    next unless defined $from;
    my $t = $tag{(unpack_sockaddr_un($from))[0] // ''} // 'O';
    $buf{$t} .= $data;
    my $w = '';
    while ((my $i = index($buf{$t}, "\n")) >= 0) { $w .= $t . 'n' . substr($buf{$t}, 0, $i) . "\n"; substr($buf{$t}, 0, $i + 1) = ''; }
    while (length($buf{$t}) >= 65536) { $w .= $t . 'p' . substr($buf{$t}, 0, 65536) . "\n"; substr($buf{$t}, 0, 65536) = ''; }
    syswrite($out, $w) if length $w;
    next;
  }
  if (defined $status) { last; }
  my $done = waitpid($pid, POSIX::WNOHANG());
  $status = $? if $done == $pid;
}
for my $t ('O', 'E') { syswrite($out, $t . 'p' . $buf{$t} . "\n") if length $buf{$t}; }
unlink $sink, 'stdout.sock', 'stderr.sock';
exit(POSIX::WIFSIGNALED($status) ? 128 + POSIX::WTERMSIG($status) : POSIX::WEXITSTATUS($status));
`;
