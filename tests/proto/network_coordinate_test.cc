#include "proto/network_coordinate.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

using ::testing::HasSubstr;

NetworkCoordinate At(double x, double height = kCoordinateMinHeightUs) {
  NetworkCoordinate c;
  c.vec[0] = x;
  c.height_us = height;
  c.error = 0.2;
  return c;
}

TEST(NetworkCoordinateTest, EstimateIsDistancePlusHeightsPlusAdjustments) {
  NetworkCoordinate a = At(0, 100);
  NetworkCoordinate b = At(3000, 50);
  b.vec[1] = 4000;  // |a - b| = 5000
  EXPECT_DOUBLE_EQ(EstimatedRttUs(a, b), 5150);
  EXPECT_DOUBLE_EQ(EstimatedRttUs(b, a), 5150);
  a.adjustment_us = 20;
  b.adjustment_us = -5;
  EXPECT_DOUBLE_EQ(EstimatedRttUs(a, b), 5165);
  // Adjustments that would make it negative are left out.
  a.adjustment_us = -10000;
  EXPECT_DOUBLE_EQ(EstimatedRttUs(a, b), 5150);
}

TEST(NetworkCoordinateTest, ProtoRoundTripAndValidation) {
  NetworkCoordinate c = At(12.5, 30);
  c.vec[7] = -4;
  c.error = 0.75;
  c.adjustment_us = -3;
  v1::Coordinate proto = CoordinateToProto(c);
  ASSERT_TRUE(ValidateCoordinate(proto).ok());
  absl::StatusOr<NetworkCoordinate> back = CoordinateFromProto(proto);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->vec, c.vec);
  EXPECT_EQ(back->height_us, 30);
  EXPECT_EQ(back->error, 0.75);
  EXPECT_EQ(back->adjustment_us, -3);

  v1::Coordinate bad = proto;
  bad.add_vec(1);
  EXPECT_THAT(ValidateCoordinate(bad).message(), HasSubstr("9 components"));
  bad = proto;
  bad.set_vec(3, std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(ValidateCoordinate(bad).message(), HasSubstr("not finite"));
  bad = proto;
  bad.set_vec(0, 4e9);
  EXPECT_THAT(ValidateCoordinate(bad).message(), HasSubstr("outside"));
  bad = proto;
  bad.set_height(-1);
  EXPECT_FALSE(ValidateCoordinate(bad).ok());
  bad = proto;
  bad.set_error(2);
  EXPECT_FALSE(ValidateCoordinate(bad).ok());
  bad = proto;
  bad.set_adjustment(std::numeric_limits<double>::infinity());
  EXPECT_FALSE(ValidateCoordinate(bad).ok());
  EXPECT_FALSE(CoordinateFromProto(v1::Coordinate()).ok());  // no components
}

TEST(NetworkCoordinateTest, ClientIgnoresSamplesThatAreNoRtts) {
  VivaldiClient client(1);
  const NetworkCoordinate start = client.coordinate();
  EXPECT_FALSE(client.Observe("p", At(0), 0));
  EXPECT_FALSE(client.Observe("p", At(0), -5));
  EXPECT_FALSE(client.Observe("p", At(0), std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(client.Observe("p", At(0), std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(client.Observe("p", At(0), 4e9));
  NetworkCoordinate broken = At(0);
  broken.vec[2] = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(client.Observe("p", broken, 1000));
  EXPECT_EQ(client.coordinate().vec, start.vec);
  EXPECT_EQ(client.tracked_peers(), 0u);
}

TEST(NetworkCoordinateTest, TwoNodesSettleAtTheirDistance) {
  VivaldiClient a(1), b(2);
  for (int i = 0; i < 200; ++i) {
    a.Observe("b", b.coordinate(), 8000);
    b.Observe("a", a.coordinate(), 8000);
  }
  EXPECT_NEAR(EstimatedRttUs(a.coordinate(), b.coordinate()), 8000, 400);
  EXPECT_LT(a.coordinate().error, 0.2);
  EXPECT_EQ(a.resets(), 0u);
  // Every term stays within what a report may carry.
  EXPECT_TRUE(ValidateCoordinate(CoordinateToProto(a.coordinate())).ok());
}

TEST(NetworkCoordinateTest, ForgottenPeersAreNotKept) {
  VivaldiClient client(1);
  for (int i = 0; i < 100; ++i) client.Observe("p" + std::to_string(i), At(i * 10.0), 500);
  EXPECT_EQ(client.tracked_peers(), 100u);
  for (int i = 0; i < 100; ++i) client.Forget("p" + std::to_string(i));
  EXPECT_EQ(client.tracked_peers(), 0u);
}

TEST(NetworkCoordinateTest, HugeSamplesStayReportable) {
  VivaldiClient client(3);
  NetworkCoordinate far = At(3.5e9, 1e9);
  far.error = 0.01;
  for (int i = 0; i < 50; ++i) client.Observe("far", far, 3.6e9);
  for (int i = 0; i < 50; ++i) client.Observe("near", At(0), 1);
  EXPECT_TRUE(ValidateCoordinate(CoordinateToProto(client.coordinate())).ok());
}

}  // namespace
}  // namespace canopy
