// The seed 004 tutorial's server ("Vinted Ventures backs Tilt's $26M live-commerce round"), rebuilt from its
// code so bench-e2e can measure it side by side with ours, in the same harness and the same run. Kept as the
// tutorial wrote it (in-memory auctions, any non-empty token accepted, io.emit to every socket); the only
// additions are PORT/HOST from the environment, a readiness line on stdout, no per-connection console logs
// (they would dominate the CPU at thousands of viewers), and the auction id in create-auction so the harness
// can name it.
const express = require("express");
const http = require("http");
const socketIo = require("socket.io");

const app = express();
const server = http.createServer(app);
const io = socketIo(server);

app.get("/", (req, res) => {
  res.send("Live Auction Platform Server Running");
});

const users = [];
const authenticateUser = (socket, next) => {
  const token = socket.handshake.auth.token;
  if (token) {
    const user = { id: Date.now(), name: `User${Date.now()}` };
    socket.user = user;
    users.push(user);
    next();
  } else {
    next(new Error("Authentication error"));
  }
};
io.use(authenticateUser);

const auctions = [];
io.on("connection", (socket) => {
  socket.on("create-auction", (auctionData) => {
    const auction = {
      id: auctionData.id ?? Date.now(),
      title: auctionData.title,
      description: auctionData.description,
      startingPrice: auctionData.startingPrice,
      currentBid: auctionData.startingPrice,
      bidder: null,
      endTime: Date.now() + (auctionData.duration || 60000),
      status: "active",
    };
    auctions.push(auction);
    io.emit("auction-created", auction);
  });

  socket.on("place-bid", (bidData) => {
    const auction = auctions.find((a) => a.id === bidData.auctionId);
    if (auction && auction.status === "active" && bidData.amount > auction.currentBid) {
      auction.currentBid = bidData.amount;
      auction.bidder = socket.user.name;
      io.emit("bid-updated", auction);
    }
  });
});

setInterval(() => {
  const now = Date.now();
  auctions.forEach((auction) => {
    if (auction.endTime <= now && auction.status === "active") {
      auction.status = "ended";
      io.emit("auction-ended", auction);
    }
  });
}, 1000);

const PORT = Number(process.env.PORT || 3000);
server.listen(PORT, process.env.HOST || "127.0.0.1", () => {
  console.log(`listening ${PORT}`);
});
