// Daub's short answers: something went wrong (one sentence), or something
// can be done (a dropped PNG's parameters). Centred and quiet.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Item {
    id: root

    required property string text
    /// "useParameters" offers a button; "" for none.
    required property string action
    required property string parameters

    /// The user took the offered parameters.
    signal useParameters(string parameters)

    implicitHeight: box.height + 8

    Rectangle {
        id: box
        anchors.horizontalCenter: parent.horizontalCenter
        width: Math.min(root.width - 48, row.implicitWidth + 28)
        height: row.implicitHeight + 14
        radius: height / 2 > 18 ? Theme.radius : height / 2
        color: Theme.sunken

        RowLayout {
            id: row
            anchors.centerIn: parent
            width: parent.width - 28
            spacing: 10
            Label {
                Layout.fillWidth: true
                text: root.text
                wrapMode: Text.Wrap
                horizontalAlignment: Text.AlignHCenter
                color: Theme.mutedText
                textFormat: Text.PlainText
            }
            Button {
                visible: root.action === "useParameters"
                text: qsTr("Use its parameters")
                flat: true
                onClicked: root.useParameters(root.parameters)
            }
        }
    }
}
